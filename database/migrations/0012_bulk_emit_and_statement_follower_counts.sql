-- Bulk writers (the seed) emit thousands of events per transaction. emit_event per row
-- costs one aggregate_versions upsert, one outbox insert and one NOTIFY per event (each
-- with its own payload, so NOTIFY cannot fold them), and a held event then took a second,
-- non-HOT UPDATE of its outbox row. Measured at 10,000 users: 26 s emitting and 20 s
-- holding 200,000 follow events. These make both set-based, with the same contract.

-- 1. emit_events: emit_event for many aggregates of one type in one statement. Versions
--    are bumped under the same aggregate_versions row locks (taken in aggregate id order,
--    so two bulk emitters cannot deadlock), ids are assigned in input order, and an
--    aggregate given more than once gets consecutive versions in input order: per
--    aggregate, id order is version order and versions stay gap-free, as with emit_event.
--    One NOTIFY per call (the relay reads no payload: a notification only wakes it).
--    p_hold_seconds > 0 makes the events due only after that long (outbox/hold.ts), set
--    at insert instead of by a second update.
CREATE FUNCTION emit_events(p_aggregate_type text, p_aggregate_ids uuid[], p_event_type text,
                            p_payloads jsonb[], p_hold_seconds double precision DEFAULT 0)
  RETURNS TABLE (event_id bigint, event_version bigint)
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
BEGIN
  IF cardinality(p_aggregate_ids) IS DISTINCT FROM cardinality(p_payloads) THEN
    RAISE EXCEPTION 'emit_events: % aggregate ids but % payloads',
      cardinality(p_aggregate_ids), cardinality(p_payloads)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_hold_seconds IS NULL OR p_hold_seconds < 0 THEN
    RAISE EXCEPTION 'emit_events: hold must be 0 or more seconds, got %', p_hold_seconds
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF coalesce(cardinality(p_aggregate_ids), 0) = 0 THEN
    RETURN;
  END IF;
  RETURN QUERY
  WITH input AS (
    SELECT x.aid, x.p, x.o,
           row_number() OVER (PARTITION BY x.aid ORDER BY x.o) AS k,
           count(*) OVER (PARTITION BY x.aid) AS n
      FROM unnest(p_aggregate_ids, p_payloads) WITH ORDINALITY AS x(aid, p, o)
  ),
  bumped AS (
    INSERT INTO aggregate_versions AS av (aggregate_type, aggregate_id, version)
      SELECT p_aggregate_type, i.aid, i.n FROM input i WHERE i.k = 1 ORDER BY i.aid
      ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET version = av.version + excluded.version
      RETURNING av.aggregate_id, av.version
  ),
  written AS (
    INSERT INTO outbox (aggregate_type, aggregate_id, aggregate_version, event_type, payload, next_retry_at)
      SELECT p_aggregate_type, i.aid, b.version - i.n + i.k, p_event_type, i.p,
             clock_timestamp() + make_interval(secs => p_hold_seconds)
        FROM input i JOIN bumped b ON b.aggregate_id = i.aid
       ORDER BY i.o
      RETURNING outbox.id, outbox.aggregate_version
  )
  SELECT w.id, w.aggregate_version FROM written w ORDER BY w.id;
  PERFORM pg_notify('asora_outbox', '');
END
$$;
REVOKE ALL ON FUNCTION emit_events(text, uuid[], text, jsonb[], double precision) FROM PUBLIC;
-- Like emit_event since 0010: the workers' only (the application emits checked events).
GRANT EXECUTE ON FUNCTION emit_events(text, uuid[], text, jsonb[], double precision) TO asora_worker;

-- 2. follower_counts (0005) kept per statement instead of per row: one grouped upsert for
--    a statement's follows (a bulk insert of 1,000 follows touched follower_counts 1,000
--    times), the same counts in the same transaction.
DROP TRIGGER follower_counts_track ON follows;

CREATE OR REPLACE FUNCTION follower_counts_track() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- In user id order, so concurrent statements lock the counters in one order.
    INSERT INTO follower_counts AS c (user_id, followers)
      SELECT followee_id, count(*) FROM follows_added GROUP BY followee_id ORDER BY followee_id
      ON CONFLICT (user_id) DO UPDATE SET followers = c.followers + excluded.followers;
  ELSE
    UPDATE follower_counts AS c SET followers = c.followers - d.n
      FROM (SELECT followee_id, count(*) AS n FROM follows_removed GROUP BY followee_id) d
     WHERE c.user_id = d.followee_id;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER follower_counts_added
  AFTER INSERT ON follows REFERENCING NEW TABLE AS follows_added
  FOR EACH STATEMENT EXECUTE FUNCTION follower_counts_track();
CREATE TRIGGER follower_counts_removed
  AFTER DELETE ON follows REFERENCING OLD TABLE AS follows_removed
  FOR EACH STATEMENT EXECUTE FUNCTION follower_counts_track();
