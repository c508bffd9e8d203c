-- Asora canonical schema: the whole target schema in one script, for an empty database.
-- GENERATED from database/migrations by `asora schema target --write`. Do not edit by hand:
-- a test fails when this file and the migrations disagree.
--
--   psql -v ON_ERROR_STOP=1 -f database/migrate_to_target_schema.sql "$DATABASE_URL"
--
-- It records every migration in schema_migrations, so `asora migrate` afterwards is a no-op.

BEGIN;

CREATE TABLE IF NOT EXISTS schema_migrations (
  version    text PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);

-- ======================================== migration 0001_canonical_schema

-- Canonical schema v2: PostgreSQL is the source of truth; Cosmos DB holds projections.
-- Runs on PostgreSQL 15+ and on PGlite. Forward-only: never edit once applied.

CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS citext;

-- Roles are cluster-wide: create them only when missing, so re-running and parallel
-- databases on one server are safe. NOLOGIN: sessions enter them with SET LOCAL ROLE.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'asora_app') THEN
    CREATE ROLE asora_app NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'asora_admin') THEN
    CREATE ROLE asora_admin NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'asora_worker') THEN
    CREATE ROLE asora_worker NOLOGIN;
  END IF;
  -- Admins get everything the application role has, plus admin-only policies.
  IF NOT pg_has_role('asora_admin', 'asora_app', 'MEMBER') THEN
    GRANT asora_app TO asora_admin;
  END IF;
  -- The connecting (owner) user must be able to SET ROLE into each of them.
  IF NOT pg_has_role(current_user, 'asora_admin', 'MEMBER') THEN
    EXECUTE format('GRANT asora_admin TO %I', current_user);
  END IF;
  IF NOT pg_has_role(current_user, 'asora_worker', 'MEMBER') THEN
    EXECUTE format('GRANT asora_worker TO %I', current_user);
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL; -- another database on this server created them concurrently
END
$$;

-- The caller of the current transaction, set by the RLS session helper.
CREATE FUNCTION app_current_user_id() RETURNS uuid
  LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('app.current_user_id', true), '')::uuid $$;

-- ---------------------------------------------------------------- users and identity

CREATE TABLE users (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email         citext NOT NULL,
  password_hash text,
  role          text NOT NULL DEFAULT 'user',
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz,
  CONSTRAINT users_email_key UNIQUE (email),
  CONSTRAINT users_role_check CHECK (role IN ('user', 'moderator', 'admin')),
  CONSTRAINT users_email_check CHECK (char_length(email) BETWEEN 3 AND 254)
);

CREATE TABLE auth_identities (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  provider         text NOT NULL,
  provider_subject text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT auth_identities_provider_check CHECK (provider IN ('google', 'apple', 'github', 'email')),
  CONSTRAINT auth_identities_provider_subject_key UNIQUE (provider, provider_subject)
);
CREATE INDEX auth_identities_user_id_idx ON auth_identities (user_id);

CREATE TABLE profiles (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  display_name  text NOT NULL,
  bio           text,
  avatar_url    text,
  privacy_level text NOT NULL DEFAULT 'public',
  version       integer NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT profiles_user_id_key UNIQUE (user_id),
  CONSTRAINT profiles_display_name_check CHECK (char_length(display_name) BETWEEN 1 AND 50),
  CONSTRAINT profiles_bio_check CHECK (bio IS NULL OR char_length(bio) <= 500),
  CONSTRAINT profiles_avatar_url_check CHECK (avatar_url IS NULL OR char_length(avatar_url) <= 2048),
  CONSTRAINT profiles_privacy_level_check CHECK (privacy_level IN ('public', 'followers', 'private'))
);

-- ---------------------------------------------------------------- content

CREATE TABLE posts (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  author_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  text       text NOT NULL,
  tags       text[] NOT NULL DEFAULT '{}',
  status     text NOT NULL DEFAULT 'published',
  version    integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  CONSTRAINT posts_text_check CHECK (char_length(text) BETWEEN 1 AND 5000),
  CONSTRAINT posts_tags_check CHECK (cardinality(tags) <= 20),
  CONSTRAINT posts_status_check CHECK (status IN ('published', 'hidden', 'removed', 'deleted'))
);
CREATE INDEX posts_author_created_idx ON posts (author_id, created_at DESC);
CREATE INDEX posts_status_created_idx ON posts (status, created_at DESC);

CREATE TABLE reactions (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  post_id    uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
  user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  type       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT reactions_type_check CHECK (type IN ('like', 'heart', 'laugh', 'wow', 'sad', 'angry')),
  CONSTRAINT reactions_post_user_type_key UNIQUE (post_id, user_id, type)
);
CREATE INDEX reactions_post_type_created_idx ON reactions (post_id, type, created_at DESC);
CREATE INDEX reactions_user_id_idx ON reactions (user_id);

-- ---------------------------------------------------------------- relationships

CREATE TABLE follows (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  follower_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  followee_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT follows_pair_key UNIQUE (follower_id, followee_id),
  CONSTRAINT follows_no_self CHECK (follower_id <> followee_id)
);
-- Fan-out reads a followee's followers; the unique key serves "who do I follow".
CREATE INDEX follows_followee_idx ON follows (followee_id, follower_id);

CREATE TABLE blocks (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  blocker_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  blocked_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT blocks_pair_key UNIQUE (blocker_id, blocked_id),
  CONSTRAINT blocks_no_self CHECK (blocker_id <> blocked_id)
);
CREATE INDEX blocks_blocked_idx ON blocks (blocked_id, blocker_id);

CREATE TABLE mutes (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  muter_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  muted_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT mutes_pair_key UNIQUE (muter_id, muted_id),
  CONSTRAINT mutes_no_self CHECK (muter_id <> muted_id)
);
CREATE INDEX mutes_muted_idx ON mutes (muted_id, muter_id);

-- ---------------------------------------------------------------- moderation

CREATE TABLE moderation_cases (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  reporter_id  uuid REFERENCES users (id) ON DELETE SET NULL,
  content_type text NOT NULL,
  content_id   uuid NOT NULL,
  reason       text NOT NULL,
  status       text NOT NULL DEFAULT 'open',
  decision     text,
  decided_by   uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  resolved_at  timestamptz,
  CONSTRAINT moderation_cases_content_type_check CHECK (content_type IN ('post', 'profile')),
  CONSTRAINT moderation_cases_reason_check CHECK (char_length(reason) BETWEEN 1 AND 1000),
  CONSTRAINT moderation_cases_status_check CHECK (status IN ('open', 'under_review', 'actioned', 'dismissed')),
  CONSTRAINT moderation_cases_decision_check CHECK (decision IS NULL OR decision IN ('remove', 'keep'))
);
CREATE INDEX moderation_cases_status_created_idx ON moderation_cases (status, created_at DESC);
CREATE INDEX moderation_cases_content_idx ON moderation_cases (content_type, content_id);
CREATE INDEX moderation_cases_reporter_idx ON moderation_cases (reporter_id);

CREATE TABLE appeals (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  case_id      uuid NOT NULL REFERENCES moderation_cases (id) ON DELETE CASCADE,
  appellant_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  reason       text NOT NULL,
  status       text NOT NULL DEFAULT 'pending',
  decided_by   uuid REFERENCES users (id) ON DELETE SET NULL,
  decided_at   timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT appeals_reason_check CHECK (char_length(reason) BETWEEN 1 AND 1000),
  CONSTRAINT appeals_status_check CHECK (status IN ('pending', 'approved', 'rejected')),
  CONSTRAINT appeals_case_appellant_key UNIQUE (case_id, appellant_id)
);
CREATE INDEX appeals_appellant_idx ON appeals (appellant_id, created_at DESC);

CREATE TABLE audit_log (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  actor_id     uuid,
  action       text NOT NULL,
  subject_type text NOT NULL,
  subject_id   uuid,
  details      jsonb NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_subject_idx ON audit_log (subject_type, subject_id, created_at DESC);
CREATE INDEX audit_log_created_idx ON audit_log (created_at DESC);

-- Admin search mirror, written by the outbox relay (seed: "outbox consumer mirrors to
-- posts_admin_mirror"). Keyed by the post's own id.
CREATE TABLE posts_admin_mirror (
  post_id        uuid PRIMARY KEY,
  author_id      uuid NOT NULL,
  text           text NOT NULL,
  tags           text[] NOT NULL DEFAULT '{}',
  status         text NOT NULL,
  source_version integer NOT NULL,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  mirrored_at    timestamptz NOT NULL DEFAULT now(),
  search         tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, text)) STORED,
  CONSTRAINT posts_admin_mirror_status_check CHECK (status IN ('published', 'hidden', 'removed', 'deleted'))
);
CREATE INDEX posts_admin_mirror_search_idx ON posts_admin_mirror USING gin (search);
CREATE INDEX posts_admin_mirror_author_idx ON posts_admin_mirror (author_id, created_at DESC);

-- ---------------------------------------------------------------- outbox

-- Per-aggregate version counter: emit_event bumps it under a row lock, so concurrent
-- emitters for one aggregate get distinct, ordered versions.
CREATE TABLE aggregate_versions (
  aggregate_type text NOT NULL,
  aggregate_id   uuid NOT NULL,
  version        bigint NOT NULL,
  PRIMARY KEY (aggregate_type, aggregate_id)
);

CREATE TABLE outbox (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  aggregate_type    text NOT NULL,
  aggregate_id      uuid NOT NULL,
  aggregate_version bigint NOT NULL,
  event_type        text NOT NULL,
  payload           jsonb NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  processed_at      timestamptz,
  retry_count       integer NOT NULL DEFAULT 0,
  max_retries       integer NOT NULL DEFAULT 10,
  next_retry_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  last_error        text,
  dead_lettered_at  timestamptz,
  claimed_by        text,
  lease_until       timestamptz,
  CONSTRAINT outbox_aggregate_version_key UNIQUE (aggregate_type, aggregate_id, aggregate_version),
  CONSTRAINT outbox_retry_count_check CHECK (retry_count >= 0 AND max_retries >= 0)
);
-- Claim path: pending rows by due time; and the per-aggregate "oldest pending" probe.
CREATE INDEX outbox_pending_due_idx ON outbox (next_retry_at, id)
  WHERE processed_at IS NULL AND dead_lettered_at IS NULL;
CREATE INDEX outbox_pending_aggregate_idx ON outbox (aggregate_type, aggregate_id, id)
  WHERE processed_at IS NULL AND dead_lettered_at IS NULL;
CREATE INDEX outbox_dead_lettered_idx ON outbox (dead_lettered_at)
  WHERE dead_lettered_at IS NOT NULL;

-- The one way to emit: called inside the canonical transaction, as any role.
CREATE FUNCTION emit_event(p_aggregate_type text, p_aggregate_id uuid, p_event_type text, p_payload jsonb)
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
  PERFORM pg_notify('asora_outbox', v_id::text);
  RETURN v_id;
END
$$;

-- Login must find a user by email before anyone is authenticated: a narrow definer
-- function instead of opening the users table to the application role.
CREATE FUNCTION auth_find_credentials(p_email citext)
  RETURNS TABLE (user_id uuid, password_hash text, role text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$ SELECT id, password_hash, role FROM users WHERE email = p_email AND deleted_at IS NULL $$;

-- Whether an email is taken (any letter case, including soft-deleted accounts).
CREATE FUNCTION auth_email_taken(p_email citext)
  RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$ SELECT EXISTS (SELECT 1 FROM users WHERE email = p_email) $$;

-- The caller's role and liveness, read before the session switches role.
CREATE FUNCTION auth_session_user(p_user_id uuid)
  RETURNS TABLE (user_id uuid, role text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$ SELECT id, role FROM users WHERE id = p_user_id AND deleted_at IS NULL $$;

REVOKE ALL ON FUNCTION emit_event(text, uuid, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION auth_find_credentials(citext) FROM PUBLIC;
REVOKE ALL ON FUNCTION auth_email_taken(citext) FROM PUBLIC;
REVOKE ALL ON FUNCTION auth_session_user(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION emit_event(text, uuid, text, jsonb) TO asora_app, asora_worker;
GRANT EXECUTE ON FUNCTION auth_find_credentials(citext) TO asora_app;
GRANT EXECUTE ON FUNCTION auth_email_taken(citext) TO asora_app;
GRANT EXECUTE ON FUNCTION auth_session_user(uuid) TO asora_app;
GRANT EXECUTE ON FUNCTION app_current_user_id() TO asora_app, asora_worker;

-- ---------------------------------------------------------------- privileges

GRANT USAGE ON SCHEMA public TO asora_app, asora_worker;

GRANT SELECT, INSERT ON users TO asora_app;
GRANT UPDATE (email, password_hash, updated_at, deleted_at) ON users TO asora_app;
GRANT SELECT, INSERT, DELETE ON auth_identities TO asora_app;
GRANT SELECT, INSERT ON profiles TO asora_app;
GRANT UPDATE (display_name, bio, avatar_url, privacy_level, version, updated_at) ON profiles TO asora_app;
GRANT SELECT, INSERT ON posts TO asora_app;
GRANT UPDATE (text, tags, status, version, updated_at, deleted_at) ON posts TO asora_app;
GRANT SELECT, INSERT, DELETE ON reactions, follows, blocks, mutes TO asora_app;
GRANT SELECT, INSERT ON moderation_cases, appeals TO asora_app;
GRANT INSERT ON audit_log TO asora_app;
-- Admin-only writes (moderation decisions, role-independent mirror search).
GRANT UPDATE ON moderation_cases, appeals TO asora_admin;
GRANT UPDATE (status, version, updated_at) ON posts TO asora_admin;
GRANT SELECT ON posts_admin_mirror, audit_log TO asora_admin;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO asora_worker;

-- ---------------------------------------------------------------- row level security

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY users_self_select ON users FOR SELECT TO asora_app USING (id = app_current_user_id());
CREATE POLICY users_self_insert ON users FOR INSERT TO asora_app WITH CHECK (id = app_current_user_id());
CREATE POLICY users_self_update ON users FOR UPDATE TO asora_app
  USING (id = app_current_user_id()) WITH CHECK (id = app_current_user_id());
CREATE POLICY users_admin_all ON users FOR ALL TO asora_admin USING (true) WITH CHECK (true);
CREATE POLICY users_worker_all ON users FOR ALL TO asora_worker USING (true) WITH CHECK (true);

ALTER TABLE auth_identities ENABLE ROW LEVEL SECURITY;
CREATE POLICY auth_identities_own ON auth_identities FOR ALL TO asora_app
  USING (user_id = app_current_user_id()) WITH CHECK (user_id = app_current_user_id());
CREATE POLICY auth_identities_worker_all ON auth_identities FOR ALL TO asora_worker USING (true) WITH CHECK (true);

ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY profiles_visible ON profiles FOR SELECT TO asora_app USING (
  user_id = app_current_user_id()
  OR privacy_level = 'public'
  OR (privacy_level = 'followers' AND EXISTS (
        SELECT 1 FROM follows f
        WHERE f.follower_id = app_current_user_id() AND f.followee_id = profiles.user_id))
);
CREATE POLICY profiles_own_insert ON profiles FOR INSERT TO asora_app WITH CHECK (user_id = app_current_user_id());
CREATE POLICY profiles_own_update ON profiles FOR UPDATE TO asora_app
  USING (user_id = app_current_user_id()) WITH CHECK (user_id = app_current_user_id());
CREATE POLICY profiles_admin_select ON profiles FOR SELECT TO asora_admin USING (true);
CREATE POLICY profiles_worker_all ON profiles FOR ALL TO asora_worker USING (true) WITH CHECK (true);

ALTER TABLE posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY posts_visible ON posts FOR SELECT TO asora_app
  USING ((status = 'published' AND deleted_at IS NULL) OR author_id = app_current_user_id());
CREATE POLICY posts_own_insert ON posts FOR INSERT TO asora_app
  WITH CHECK (author_id = app_current_user_id() AND status = 'published');
-- Authors edit and delete their own posts, but cannot republish a moderator's removal.
CREATE POLICY posts_own_update ON posts FOR UPDATE TO asora_app
  USING (author_id = app_current_user_id() AND status <> 'removed')
  WITH CHECK (author_id = app_current_user_id() AND status IN ('published', 'deleted'));
CREATE POLICY posts_admin_all ON posts FOR ALL TO asora_admin USING (true) WITH CHECK (true);
CREATE POLICY posts_worker_all ON posts FOR ALL TO asora_worker USING (true) WITH CHECK (true);

ALTER TABLE reactions ENABLE ROW LEVEL SECURITY;
CREATE POLICY reactions_read ON reactions FOR SELECT TO asora_app USING (true);
CREATE POLICY reactions_own_insert ON reactions FOR INSERT TO asora_app WITH CHECK (user_id = app_current_user_id());
CREATE POLICY reactions_own_delete ON reactions FOR DELETE TO asora_app USING (user_id = app_current_user_id());
CREATE POLICY reactions_worker_all ON reactions FOR ALL TO asora_worker USING (true) WITH CHECK (true);

ALTER TABLE follows ENABLE ROW LEVEL SECURITY;
CREATE POLICY follows_read ON follows FOR SELECT TO asora_app USING (true);
CREATE POLICY follows_own_insert ON follows FOR INSERT TO asora_app WITH CHECK (follower_id = app_current_user_id());
-- Either side may end a follow: unfollow, or a block that severs the follower.
CREATE POLICY follows_either_delete ON follows FOR DELETE TO asora_app
  USING (follower_id = app_current_user_id() OR followee_id = app_current_user_id());
CREATE POLICY follows_worker_all ON follows FOR ALL TO asora_worker USING (true) WITH CHECK (true);

ALTER TABLE blocks ENABLE ROW LEVEL SECURITY;
CREATE POLICY blocks_parties_read ON blocks FOR SELECT TO asora_app
  USING (blocker_id = app_current_user_id() OR blocked_id = app_current_user_id());
CREATE POLICY blocks_own_insert ON blocks FOR INSERT TO asora_app WITH CHECK (blocker_id = app_current_user_id());
CREATE POLICY blocks_own_delete ON blocks FOR DELETE TO asora_app USING (blocker_id = app_current_user_id());
CREATE POLICY blocks_worker_all ON blocks FOR ALL TO asora_worker USING (true) WITH CHECK (true);

ALTER TABLE mutes ENABLE ROW LEVEL SECURITY;
CREATE POLICY mutes_own ON mutes FOR ALL TO asora_app
  USING (muter_id = app_current_user_id()) WITH CHECK (muter_id = app_current_user_id());
CREATE POLICY mutes_worker_all ON mutes FOR ALL TO asora_worker USING (true) WITH CHECK (true);

ALTER TABLE moderation_cases ENABLE ROW LEVEL SECURITY;
CREATE POLICY moderation_cases_reporter_read ON moderation_cases FOR SELECT TO asora_app
  USING (reporter_id = app_current_user_id());
CREATE POLICY moderation_cases_reporter_insert ON moderation_cases FOR INSERT TO asora_app
  WITH CHECK (reporter_id = app_current_user_id() AND status = 'open');
CREATE POLICY moderation_cases_admin_all ON moderation_cases FOR ALL TO asora_admin USING (true) WITH CHECK (true);
CREATE POLICY moderation_cases_worker_all ON moderation_cases FOR ALL TO asora_worker USING (true) WITH CHECK (true);

ALTER TABLE appeals ENABLE ROW LEVEL SECURITY;
CREATE POLICY appeals_own_read ON appeals FOR SELECT TO asora_app USING (appellant_id = app_current_user_id());
CREATE POLICY appeals_own_insert ON appeals FOR INSERT TO asora_app
  WITH CHECK (appellant_id = app_current_user_id() AND status = 'pending');
CREATE POLICY appeals_admin_all ON appeals FOR ALL TO asora_admin USING (true) WITH CHECK (true);
CREATE POLICY appeals_worker_all ON appeals FOR ALL TO asora_worker USING (true) WITH CHECK (true);

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_log_actor_insert ON audit_log FOR INSERT TO asora_app WITH CHECK (actor_id = app_current_user_id());
CREATE POLICY audit_log_admin_read ON audit_log FOR SELECT TO asora_admin USING (true);
CREATE POLICY audit_log_worker_all ON audit_log FOR ALL TO asora_worker USING (true) WITH CHECK (true);

ALTER TABLE posts_admin_mirror ENABLE ROW LEVEL SECURITY;
CREATE POLICY posts_admin_mirror_admin_read ON posts_admin_mirror FOR SELECT TO asora_admin USING (true);
CREATE POLICY posts_admin_mirror_worker_all ON posts_admin_mirror FOR ALL TO asora_worker USING (true) WITH CHECK (true);

INSERT INTO schema_migrations (version, name, checksum) VALUES ('0001', 'canonical_schema', '1ae61a333df8fe271f4611c133179f64131b41bef0ea53956b336f4b5cbb5c0a');

-- ======================================== migration 0002_users_admin_read_only

-- Moderators and admins (asora_admin) read every account, but change only their own,
-- through the self policies they inherit from asora_app. 0001's users_admin_all was
-- FOR ALL: together with the inherited UPDATE (email, password_hash, ...) grant it let a
-- moderator's session rewrite any user's email or password hash, and turned a missing
-- WHERE in an admin request into an update of every account. Role changes go through
-- the owner connection (`asora users grant-role`), never through these roles.
DROP POLICY users_admin_all ON users;
CREATE POLICY users_admin_select ON users FOR SELECT TO asora_admin USING (true);

INSERT INTO schema_migrations (version, name, checksum) VALUES ('0002', 'users_admin_read_only', 'a0a4290d7288c652a4d865311397a4e27af3de59071809b4bd3441febbf9297f');

-- ======================================== migration 0003_moderators_change_post_status_only

-- Moderators and admins act on other users' posts only through status (moderation
-- removal, restore on appeal). They inherit the application role's UPDATE grant on
-- text and tags for their own posts, and posts_admin_all covers every row, so without
-- this guard a moderator's session could rewrite anyone's words.
CREATE FUNCTION posts_guard_moderator_edit() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF current_user = 'asora_admin'
     AND OLD.author_id IS DISTINCT FROM app_current_user_id()
     AND (NEW.text IS DISTINCT FROM OLD.text
          OR NEW.tags IS DISTINCT FROM OLD.tags
          OR NEW.author_id IS DISTINCT FROM OLD.author_id
          OR NEW.created_at IS DISTINCT FROM OLD.created_at) THEN
    RAISE EXCEPTION 'moderators may change only the status of another user''s post'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER posts_guard_moderator_edit
  BEFORE UPDATE ON posts
  FOR EACH ROW EXECUTE FUNCTION posts_guard_moderator_edit();

INSERT INTO schema_migrations (version, name, checksum) VALUES ('0003', 'moderators_change_post_status_only', 'bdef4667502059640394dc55cd0eebdae18837dd3d6539396aedf7e44d0c44d6');

-- ======================================== migration 0004_account_deletion_and_appeal_owners

-- Account deletion removes the profile row itself instead of scrubbing it.
GRANT DELETE ON profiles TO asora_app;
CREATE POLICY profiles_own_delete ON profiles FOR DELETE TO asora_app
  USING (user_id = app_current_user_id());

-- Only the owner of moderated content may appeal its case. The application role cannot
-- read other reporters' cases, so a narrow definer function answers "does this case
-- exist, and whose content is it" (a post's author, or the reported profile's user).
CREATE FUNCTION appeal_target(p_case_id uuid)
  RETURNS TABLE (case_exists boolean, owner_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
    SELECT true,
           CASE c.content_type
             WHEN 'post' THEN (SELECT p.author_id FROM posts p WHERE p.id = c.content_id)
             WHEN 'profile' THEN c.content_id
           END
      FROM moderation_cases c
     WHERE c.id = p_case_id
  $$;
REVOKE ALL ON FUNCTION appeal_target(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION appeal_target(uuid) TO asora_app;

DROP POLICY appeals_own_insert ON appeals;
CREATE POLICY appeals_own_insert ON appeals FOR INSERT TO asora_app
  WITH CHECK (
    appellant_id = app_current_user_id()
    AND status = 'pending'
    AND (SELECT t.owner_id FROM appeal_target(case_id) t) = app_current_user_id()
  );

INSERT INTO schema_migrations (version, name, checksum) VALUES ('0004', 'account_deletion_and_appeal_owners', 'a7387eabb86765ab85dd96b9fa0e61d33210f10d6061240660aaa5ff2ed22e23');

-- ======================================== migration 0005_follower_counts

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

INSERT INTO schema_migrations (version, name, checksum) VALUES ('0005', 'follower_counts', '55758996daebac181845d7a0633f5aeb3ecceaa706370387a60ef00ccac4a74a');

-- ======================================== migration 0006_one_statement_sessions

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

INSERT INTO schema_migrations (version, name, checksum) VALUES ('0006', 'one_statement_sessions', 'aeff0ea795e3cc8cd64414b0f500d594a518223c8dee96f1b1b264feecdc2e9b');

-- ======================================== migration 0007_archival

-- Archival to cold storage (object store: Azure Blob or a directory). Each file written is
-- recorded here with its checksum, in the same transaction that points rows at it, so the
-- table is the authoritative manifest: a file not listed here was never committed.
CREATE TABLE archive_files (
  key        text PRIMARY KEY,
  kind       text NOT NULL,
  month      date NOT NULL,
  items      integer NOT NULL,
  bytes      integer NOT NULL,
  sha256     text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT archive_files_kind_check CHECK (kind IN ('posts', 'audit')),
  CONSTRAINT archive_files_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$')
);

-- An archived post keeps its row (ids, author, status, times, reactions point at it) and a
-- pointer to its file; its text lives only in cold storage until it is restored.
ALTER TABLE posts
  ADD COLUMN archived_at timestamptz,
  ADD COLUMN archive_key text REFERENCES archive_files (key);
ALTER TABLE posts ALTER COLUMN text DROP NOT NULL;
ALTER TABLE posts ADD CONSTRAINT posts_archive_check
  CHECK ((archived_at IS NULL) = (archive_key IS NULL) AND (archived_at IS NOT NULL OR text IS NOT NULL));
-- What an archive run walks: the oldest posts still hot.
CREATE INDEX posts_hot_created_idx ON posts (created_at, id) WHERE archived_at IS NULL;
CREATE INDEX audit_log_created_id_idx ON audit_log (created_at, id);

ALTER TABLE archive_files ENABLE ROW LEVEL SECURITY;
CREATE POLICY archive_files_worker_all ON archive_files FOR ALL TO asora_worker USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON archive_files TO asora_worker;
-- Reading an archived post (GET /v1/posts/:id, the export) checks the file's checksum.
CREATE POLICY archive_files_app_read ON archive_files FOR SELECT TO asora_app USING (true);
GRANT SELECT ON archive_files TO asora_app;

INSERT INTO schema_migrations (version, name, checksum) VALUES ('0007', 'archival', 'aa203eb6094ab5fd119922bd27ba47d38dac88426777068412f22caefadb3730');

-- ======================================== migration 0008_idempotency_keys

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

INSERT INTO schema_migrations (version, name, checksum) VALUES ('0008', 'idempotency_keys', '1d7113d0341cf001e198cbeb0a0d295281dfe8ed40ed47590eeee7c2afb0474a');

-- ======================================== migration 0009_least_privilege

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

INSERT INTO schema_migrations (version, name, checksum) VALUES ('0009', 'least_privilege', '4c68f8f939b03a713e3e9fbe6be7e07cd1a1556006168266ff8b84ba51c0d823');

-- ======================================== migration 0010_login_roles_and_checked_events

-- Least privilege, part 2: the API and the workers log in as roles that own nothing, and
-- application sessions can emit only events that tell the truth about canonical rows.

-- 1. Login roles (cluster-wide, created only when missing, like 0001's group roles).
--    asora_api_login: NOINHERIT, so on its own it holds no privilege at all; a request
--    enters asora_app (or asora_admin for moderators) and RESET ROLE lands on nothing.
--    It can never become asora_worker or the owner.
--    asora_worker_login: member of asora_worker only and inherits it, so a worker session
--    is the worker role with or without SET ROLE, and nothing more.
--    No passwords here: a deployment sets them (ALTER ROLE ... PASSWORD) or uses its own
--    authentication (docs/canonical.md, "Roles").
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'asora_api_login') THEN
    CREATE ROLE asora_api_login LOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'asora_worker_login') THEN
    CREATE ROLE asora_worker_login LOGIN INHERIT;
  END IF;
  IF NOT pg_has_role('asora_api_login', 'asora_app', 'MEMBER') THEN
    GRANT asora_app TO asora_api_login;
  END IF;
  IF NOT pg_has_role('asora_api_login', 'asora_admin', 'MEMBER') THEN
    GRANT asora_admin TO asora_api_login;
  END IF;
  IF NOT pg_has_role('asora_worker_login', 'asora_worker', 'MEMBER') THEN
    GRANT asora_worker TO asora_worker_login;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL; -- another database on this server created them concurrently
END
$$;

-- The session start runs as the login role itself, before it has switched: it may look the
-- caller up and switch (to asora_app or asora_admin, which it could SET ROLE to anyway).
GRANT EXECUTE ON FUNCTION auth_begin_session(uuid) TO asora_api_login;
GRANT EXECUTE ON FUNCTION feed_read_context(uuid, integer) TO asora_api_login;
GRANT EXECUTE ON FUNCTION auth_session_user(uuid) TO asora_api_login;

-- 2. Checked events. emit_event writes any payload under the next version; an application
--    session that could call it forged a post (version 999) into every projection. It is
--    now the workers' (who may write the outbox anyway) and emit_checked_event's only:
--    the application emits through emit_checked_event, which refuses an event that does
--    not match the canonical rows of the same transaction.

-- A stable uuid for a composite key: the same as pairAggregateId in src/outbox/emit.ts.
CREATE FUNCTION pair_aggregate_id(p_kind text, VARIADIC p_parts text[])
  RETURNS uuid
  LANGUAGE sql IMMUTABLE
  SET search_path = public, pg_temp
  AS $$
  SELECT regexp_replace(encode(digest(p_kind || ':' || array_to_string(p_parts, ':'), 'sha256'), 'hex'),
                        '^(.{8})(.{4})(.{4})(.{4})(.{12}).*$', '\1-\2-\3-\4-\5')::uuid
$$;

-- Timestamps in payloads are ISO strings at millisecond precision.
CREATE FUNCTION same_instant(p_iso text, p_at timestamptz)
  RETURNS boolean
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT p_iso IS NOT NULL AND p_at IS NOT NULL
               AND abs(extract(epoch FROM (p_iso::timestamptz - p_at))) < 0.001 $$;

-- Whether an event states the canonical truth: snapshots equal the row (every field, the
-- version included), a created relationship exists (a follow: inserted by this very
-- transaction, since its notification is keyed by the event), a removed one does not,
-- an account deletion names only what is gone, and the aggregate id is the one the
-- application derives. Anything else (an unknown type, a foreign aggregate) is false.
CREATE FUNCTION event_matches_canonical(p_aggregate_type text, p_aggregate_id uuid, p_event_type text, p_payload jsonb)
  RETURNS boolean
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
DECLARE
  p jsonb := p_payload;
  v_ok boolean;
BEGIN
  IF jsonb_typeof(p) IS DISTINCT FROM 'object' THEN
    RETURN false;
  END IF;
  CASE
  WHEN p_event_type IN ('post.created', 'post.updated', 'post.deleted', 'post.moderated',
                        'post.archived', 'post.restored') THEN
    SELECT p_aggregate_type = 'post'
       AND p - 'createdAt' - 'updatedAt' - 'archivedAt' = jsonb_build_object(
             'id', r.id, 'authorId', r.author_id, 'text', coalesce(r.text, ''),
             'tags', to_jsonb(coalesce(r.tags, '{}')), 'status', r.status, 'version', r.version)
       AND same_instant(p->>'createdAt', r.created_at)
       AND same_instant(p->>'updatedAt', r.updated_at)
       AND ((p ? 'archivedAt') = (r.archived_at IS NOT NULL))
       AND (r.archived_at IS NULL OR same_instant(p->>'archivedAt', r.archived_at))
      INTO v_ok FROM posts r WHERE r.id = p_aggregate_id;
  WHEN p_event_type = 'profile.updated' THEN
    SELECT p_aggregate_type = 'profile'
       AND p - 'updatedAt' = jsonb_build_object(
             'userId', r.user_id, 'displayName', r.display_name, 'bio', r.bio,
             'avatarUrl', r.avatar_url, 'privacyLevel', r.privacy_level, 'version', r.version)
       AND same_instant(p->>'updatedAt', r.updated_at)
      INTO v_ok FROM profiles r WHERE r.user_id = p_aggregate_id;
  WHEN p_event_type IN ('reaction.added', 'reaction.removed') THEN
    SELECT p_aggregate_type = 'reaction'
       AND p_aggregate_id = pair_aggregate_id('reaction', p->>'postId', p->>'userId', p->>'type')
       AND CASE WHEN p_event_type = 'reaction.added'
             THEN p - 'createdAt' = jsonb_build_object('postId', r.post_id, 'postAuthorId', po.author_id,
                                                       'userId', r.user_id, 'type', r.type)
                  AND same_instant(p->>'createdAt', r.created_at)
             ELSE r.id IS NULL AND p = jsonb_build_object('postId', po.id, 'postAuthorId', po.author_id,
                                                          'userId', p->>'userId', 'type', p->>'type') END
      INTO v_ok
      FROM posts po
      LEFT JOIN reactions r ON r.post_id = po.id AND r.user_id::text = p->>'userId' AND r.type = p->>'type'
     WHERE po.id::text = p->>'postId';
  WHEN p_event_type = 'follow.created' THEN
    SELECT p_aggregate_type = 'follow'
       AND p_aggregate_id = pair_aggregate_id('follow', r.follower_id::text, r.followee_id::text)
       AND p - 'createdAt' = jsonb_build_object('followerId', r.follower_id, 'followeeId', r.followee_id)
       AND same_instant(p->>'createdAt', r.created_at)
       AND r.xmin = pg_current_xact_id()::xid
      INTO v_ok FROM follows r
     WHERE r.follower_id::text = p->>'followerId' AND r.followee_id::text = p->>'followeeId';
  WHEN p_event_type = 'block.created' THEN
    SELECT p_aggregate_type = 'block'
       AND p_aggregate_id = pair_aggregate_id('block', r.blocker_id::text, r.blocked_id::text)
       AND p - 'createdAt' = jsonb_build_object('blockerId', r.blocker_id, 'blockedId', r.blocked_id)
       AND same_instant(p->>'createdAt', r.created_at)
      INTO v_ok FROM blocks r
     WHERE r.blocker_id::text = p->>'blockerId' AND r.blocked_id::text = p->>'blockedId';
  WHEN p_event_type = 'mute.created' THEN
    SELECT p_aggregate_type = 'mute'
       AND p_aggregate_id = pair_aggregate_id('mute', r.muter_id::text, r.muted_id::text)
       AND p - 'createdAt' = jsonb_build_object('muterId', r.muter_id, 'mutedId', r.muted_id)
       AND same_instant(p->>'createdAt', r.created_at)
      INTO v_ok FROM mutes r
     WHERE r.muter_id::text = p->>'muterId' AND r.muted_id::text = p->>'mutedId';
  WHEN p_event_type = 'follow.removed' THEN
    v_ok := p_aggregate_type = 'follow'
       AND p = jsonb_build_object('followerId', p->>'followerId', 'followeeId', p->>'followeeId')
       AND p_aggregate_id = pair_aggregate_id('follow', p->>'followerId', p->>'followeeId')
       AND NOT EXISTS (SELECT 1 FROM follows r
                        WHERE r.follower_id::text = p->>'followerId' AND r.followee_id::text = p->>'followeeId');
  WHEN p_event_type = 'block.removed' THEN
    v_ok := p_aggregate_type = 'block'
       AND p = jsonb_build_object('blockerId', p->>'blockerId', 'blockedId', p->>'blockedId')
       AND p_aggregate_id = pair_aggregate_id('block', p->>'blockerId', p->>'blockedId')
       AND NOT EXISTS (SELECT 1 FROM blocks r
                        WHERE r.blocker_id::text = p->>'blockerId' AND r.blocked_id::text = p->>'blockedId');
  WHEN p_event_type = 'mute.removed' THEN
    v_ok := p_aggregate_type = 'mute'
       AND p = jsonb_build_object('muterId', p->>'muterId', 'mutedId', p->>'mutedId')
       AND p_aggregate_id = pair_aggregate_id('mute', p->>'muterId', p->>'mutedId')
       AND NOT EXISTS (SELECT 1 FROM mutes r
                        WHERE r.muter_id::text = p->>'muterId' AND r.muted_id::text = p->>'mutedId');
  WHEN p_event_type = 'user.deleted' THEN
    -- The rows it purges from the projections are gone by now: it may name only the
    -- account's own posts, and the account may have no reactions or follows left.
    SELECT p_aggregate_type = 'user'
       AND p->>'userId' = u.id::text
       AND same_instant(p->>'deletedAt', u.deleted_at)
       AND jsonb_typeof(p->'postIds') = 'array' AND jsonb_typeof(p->'reactions') = 'array'
       AND jsonb_typeof(p->'followerIds') = 'array' AND jsonb_typeof(p->'followeeIds') = 'array'
       AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(p->'postIds') x(id)
                        WHERE NOT EXISTS (SELECT 1 FROM posts po
                                           WHERE po.id::text = x.id AND po.author_id = u.id))
       AND NOT EXISTS (SELECT 1 FROM reactions r WHERE r.user_id = u.id)
       AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = u.id OR f.followee_id = u.id)
      INTO v_ok FROM users u WHERE u.id = p_aggregate_id;
  ELSE
    v_ok := false;
  END CASE;
  RETURN coalesce(v_ok, false);
END
$$;

CREATE FUNCTION emit_checked_event(p_aggregate_type text, p_aggregate_id uuid, p_event_type text, p_payload jsonb)
  RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
BEGIN
  IF NOT event_matches_canonical(p_aggregate_type, p_aggregate_id, p_event_type, p_payload) THEN
    RAISE EXCEPTION '% for % % does not match the canonical rows', p_event_type, p_aggregate_type, p_aggregate_id
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'events are emitted only with the snapshot the same transaction wrote';
  END IF;
  RETURN emit_event(p_aggregate_type, p_aggregate_id, p_event_type, p_payload);
END
$$;

REVOKE ALL ON FUNCTION pair_aggregate_id(text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION same_instant(text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION event_matches_canonical(text, uuid, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION emit_checked_event(text, uuid, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION emit_checked_event(text, uuid, text, jsonb) TO asora_app, asora_worker;
REVOKE EXECUTE ON FUNCTION emit_event(text, uuid, text, jsonb) FROM asora_app;

INSERT INTO schema_migrations (version, name, checksum) VALUES ('0010', 'login_roles_and_checked_events', '155fd70d6ae0df9011e5d4e74eb5e04b11ebfcc20ed81beaab66c588e29a6efb');

-- ======================================== migration 0011_idempotency_committed

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

INSERT INTO schema_migrations (version, name, checksum) VALUES ('0011', 'idempotency_committed', '88f98e1aa47eff4fbc35c76216f7369fc40641885f22b8fc50f7cf4c2630be16');

-- ======================================== migration 0012_bulk_emit_and_statement_follower_counts

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

INSERT INTO schema_migrations (version, name, checksum) VALUES ('0012', 'bulk_emit_and_statement_follower_counts', '3a528c061a65f0609ad15b8554f621d55204c9943c702d68856c8226e3608fbc');

-- ======================================== migration 0013_emit_event_one_wakeup

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

INSERT INTO schema_migrations (version, name, checksum) VALUES ('0013', 'emit_event_one_wakeup', 'f75b5616abefda31a018ac72590bbc6afdc9e4053e0936d98287c72663711f26');

COMMIT;
