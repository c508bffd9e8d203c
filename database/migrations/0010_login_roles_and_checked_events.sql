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
