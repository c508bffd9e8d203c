-- Least privilege for the roles the application runs as.

-- 1. No credential hash readable by the application: asora_app (and asora_admin, which
--    inherits it) may read every users column but password_hash. Login asks the database
--    for the hash's parameters (scheme, cost, salt: not secret), derives the key itself,
--    and the database answers whether it matches (and whose account it is).
REVOKE SELECT ON users FROM asora_app;
GRANT SELECT (id, email, role, created_at, updated_at, deleted_at) ON users TO asora_app;
DROP FUNCTION auth_find_credentials(citext);

-- Unknown emails get a decoy salt, stable per email and unpredictable without this key,
-- so the answer does not tell which emails have accounts.
CREATE TABLE auth_decoy_key (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  key      bytea NOT NULL
);
INSERT INTO auth_decoy_key (key) VALUES (gen_random_bytes(32));
GRANT SELECT ON auth_decoy_key TO asora_worker; -- the worker reads every table (runbooks, exports)

CREATE FUNCTION auth_password_params(p_email citext)
  RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
  SELECT coalesce(
    (SELECT regexp_replace(password_hash, '\$[^$]*$', '') FROM users
      WHERE email = p_email AND deleted_at IS NULL AND password_hash IS NOT NULL),
    'scrypt$32768$8$1$' || encode(substring(
      hmac(lower(p_email::text)::bytea, (SELECT key FROM auth_decoy_key), 'sha256') FROM 1 FOR 16), 'base64'))
$$;

CREATE FUNCTION auth_verify_password(p_email citext, p_key text)
  RETURNS TABLE (user_id uuid, role text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
  SELECT id, role FROM users
   WHERE email = p_email AND deleted_at IS NULL AND password_hash IS NOT NULL
     AND split_part(password_hash, '$', 6) = p_key
$$;

REVOKE ALL ON FUNCTION auth_password_params(citext) FROM PUBLIC;
REVOKE ALL ON FUNCTION auth_verify_password(citext, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_password_params(citext) TO asora_app;
GRANT EXECUTE ON FUNCTION auth_verify_password(citext, text) TO asora_app;

-- 2. Moderator and admin powers are status changes, nothing more: read and change the
--    status of posts (the 0003 trigger keeps text, tags and author unchanged), decide cases
--    and appeals (status and decision columns only), never insert or delete on anyone's
--    behalf nor rewrite a case's reporter or an appeal's author and reason.
DROP POLICY posts_admin_all ON posts;
CREATE POLICY posts_admin_select ON posts FOR SELECT TO asora_admin USING (true);
CREATE POLICY posts_admin_update ON posts FOR UPDATE TO asora_admin USING (true) WITH CHECK (true);

REVOKE UPDATE ON moderation_cases, appeals FROM asora_admin;
GRANT UPDATE (status, decision, decided_by, updated_at, resolved_at) ON moderation_cases TO asora_admin;
GRANT UPDATE (status, decided_by, decided_at) ON appeals TO asora_admin;
DROP POLICY moderation_cases_admin_all ON moderation_cases;
CREATE POLICY moderation_cases_admin_select ON moderation_cases FOR SELECT TO asora_admin USING (true);
CREATE POLICY moderation_cases_admin_update ON moderation_cases FOR UPDATE TO asora_admin
  USING (true) WITH CHECK (true);
DROP POLICY appeals_admin_all ON appeals;
CREATE POLICY appeals_admin_select ON appeals FOR SELECT TO asora_admin USING (true);
CREATE POLICY appeals_admin_update ON appeals FOR UPDATE TO asora_admin USING (true) WITH CHECK (true);
