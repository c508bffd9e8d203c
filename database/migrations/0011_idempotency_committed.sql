-- An Idempotency-Key whose request committed its write is never run again. The write's own
-- transaction marks the key (idempotency_mark_committed, called by the session helpers just
-- before COMMIT when the request carries a key), so a process that dies between the commit
-- and recording the response leaves a key that a retry cannot take over: the retry is told
-- the outcome was lost (409) instead of creating a second post, report or account.
ALTER TABLE idempotency_keys ADD COLUMN committed boolean NOT NULL DEFAULT false;

-- Definer: registration switches the transaction to the new user's id, while its key lives
-- in the 'anonymous' scope. A caller may mark only its own scope or the anonymous one, only
-- an unfinished key, and only from a transaction that wrote something (has a transaction id).
CREATE FUNCTION idempotency_mark_committed(p_scope text, p_key text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE idempotency_keys SET committed = true
   WHERE scope = p_scope AND key = p_key AND status IS NULL
     AND p_scope IN (coalesce(app_current_user_id()::text, 'anonymous'), 'anonymous')
     AND pg_current_xact_id_if_assigned() IS NOT NULL
$$;
REVOKE ALL ON FUNCTION idempotency_mark_committed(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION idempotency_mark_committed(text, text) TO asora_app;
