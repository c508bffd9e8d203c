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
