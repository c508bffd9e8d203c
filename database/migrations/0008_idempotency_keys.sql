-- Idempotency-Key on the POSTs that create something: the first response is kept here,
-- in canonical, so a retry on any API instance replays it instead of creating again.
-- scope: the caller's user id, or 'anonymous' (registration); a row expires after its TTL.
CREATE TABLE idempotency_keys (
  scope        text NOT NULL,
  key          text NOT NULL,
  route        text NOT NULL,
  request_hash text NOT NULL,
  status       integer,
  response     text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  PRIMARY KEY (scope, key),
  CONSTRAINT idempotency_keys_status_check CHECK (status IS NULL OR status BETWEEN 200 AND 299)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO asora_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO asora_worker;
-- A caller sees only its own keys (anonymous callers share the 'anonymous' scope).
CREATE POLICY idempotency_keys_own ON idempotency_keys FOR ALL TO asora_app
  USING (scope = coalesce(app_current_user_id()::text, 'anonymous'))
  WITH CHECK (scope = coalesce(app_current_user_id()::text, 'anonymous'));
CREATE POLICY idempotency_keys_worker_all ON idempotency_keys FOR ALL TO asora_worker
  USING (true) WITH CHECK (true);
