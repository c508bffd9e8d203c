-- A caller's RLS session in one statement instead of three (lookup, SET LOCAL ROLE,
-- set_config), and the feed's read context in one round trip with it.
--
-- Both are SECURITY INVOKER on purpose: a security-definer function may not switch role,
-- and a function with its own SET clause would undo the switch on return. Names are
-- schema-qualified instead.

-- Looks the caller up (refusing a deleted or unknown account with SQLSTATE 28000), then
-- switches the rest of the transaction to the caller's database role with
-- app.current_user_id set, so Row Level Security applies. Returns the caller's app role.
CREATE FUNCTION auth_begin_session(p_user_id uuid)
  RETURNS text
  LANGUAGE plpgsql
  AS $$
DECLARE
  v_role text;
BEGIN
  SELECT s.role INTO v_role FROM public.auth_session_user(p_user_id) s;
  IF v_role IS NULL THEN
    RAISE EXCEPTION 'the account no longer exists' USING ERRCODE = '28000';
  END IF;
  PERFORM pg_catalog.set_config('role', CASE WHEN v_role = 'user' THEN 'asora_app' ELSE 'asora_admin' END, true);
  PERFORM pg_catalog.set_config('app.current_user_id', p_user_id::text, true);
  RETURN v_role;
END
$$;

-- What a feed read needs from canonical, under the caller's RLS session: who the caller
-- must not see (blocks either way, mutes), which followees are above the fan-out threshold
-- (their posts are merged in at read time), and when the caller last posted (the feed
-- merges the caller's own posts from canonical only while the pipeline may lag behind).
-- Called as one statement outside an explicit transaction, the role switch ends with it.
CREATE FUNCTION feed_read_context(p_user_id uuid, p_fanout_threshold integer)
  RETURNS TABLE (hidden uuid[], big_followees uuid[], last_post_at timestamptz)
  LANGUAGE plpgsql
  AS $$
BEGIN
  PERFORM public.auth_begin_session(p_user_id);
  RETURN QUERY SELECT
    ARRAY(SELECT b.blocked_id FROM public.blocks b WHERE b.blocker_id = p_user_id
          UNION SELECT b.blocker_id FROM public.blocks b WHERE b.blocked_id = p_user_id
          UNION SELECT m.muted_id FROM public.mutes m WHERE m.muter_id = p_user_id),
    ARRAY(SELECT c.user_id FROM public.follower_counts c
           WHERE c.followers > p_fanout_threshold
             AND EXISTS (SELECT 1 FROM public.follows f
                          WHERE f.follower_id = p_user_id AND f.followee_id = c.user_id)),
    (SELECT max(p.created_at) FROM public.posts p
      WHERE p.author_id = p_user_id AND p.status = 'published');
END
$$;

REVOKE ALL ON FUNCTION auth_begin_session(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION feed_read_context(uuid, integer) FROM PUBLIC;
