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
