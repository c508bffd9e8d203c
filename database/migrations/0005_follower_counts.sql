-- Follower counts kept in the canonical store by trigger, so "which of my followees are
-- above the fan-out threshold" (asked on every feed read, since their posts are merged
-- at read time) is an index lookup over the few popular accounts instead of counting
-- every followee's followers.
CREATE TABLE follower_counts (
  user_id   uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  followers integer NOT NULL DEFAULT 0,
  CONSTRAINT follower_counts_followers_check CHECK (followers >= 0)
);
CREATE INDEX follower_counts_followers_idx ON follower_counts (followers DESC);

CREATE FUNCTION follower_counts_track() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO follower_counts AS c (user_id, followers) VALUES (NEW.followee_id, 1)
      ON CONFLICT (user_id) DO UPDATE SET followers = c.followers + 1;
  ELSE
    UPDATE follower_counts SET followers = followers - 1 WHERE user_id = OLD.followee_id;
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION follower_counts_track() FROM PUBLIC;

CREATE TRIGGER follower_counts_track
  AFTER INSERT OR DELETE ON follows
  FOR EACH ROW EXECUTE FUNCTION follower_counts_track();

INSERT INTO follower_counts (user_id, followers)
  SELECT followee_id, count(*) FROM follows GROUP BY followee_id;

GRANT SELECT ON follower_counts TO asora_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON follower_counts TO asora_worker;
ALTER TABLE follower_counts ENABLE ROW LEVEL SECURITY;
-- Follower counts are public, like the follow graph they summarise.
CREATE POLICY follower_counts_read ON follower_counts FOR SELECT TO asora_app USING (true);
CREATE POLICY follower_counts_worker_all ON follower_counts FOR ALL TO asora_worker
  USING (true) WITH CHECK (true);
