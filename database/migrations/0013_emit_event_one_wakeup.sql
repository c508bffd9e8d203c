-- emit_event (0001) notified the relay with each event's id as payload. PostgreSQL folds
-- repeated notifications of one transaction only when channel and payload are both the
-- same, so a transaction that emitted n events queued n notifications and woke every
-- listening relay n times at commit. The relay reads no payload (a notification only
-- wakes it, as emit_events in 0012 already assumes), so every event now sends the same
-- empty one: one wake-up per committing transaction, however many events it emitted.
CREATE OR REPLACE FUNCTION emit_event(p_aggregate_type text, p_aggregate_id uuid, p_event_type text, p_payload jsonb)
  RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
DECLARE
  v_version bigint;
  v_id bigint;
BEGIN
  INSERT INTO aggregate_versions AS av (aggregate_type, aggregate_id, version)
    VALUES (p_aggregate_type, p_aggregate_id, 1)
    ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET version = av.version + 1
    RETURNING version INTO v_version;
  INSERT INTO outbox (aggregate_type, aggregate_id, aggregate_version, event_type, payload)
    VALUES (p_aggregate_type, p_aggregate_id, v_version, p_event_type, p_payload)
    RETURNING id INTO v_id;
  PERFORM pg_notify('asora_outbox', '');
  RETURN v_id;
END
$$;
