-- Moderators and admins (asora_admin) read every account, but change only their own,
-- through the self policies they inherit from asora_app. 0001's users_admin_all was
-- FOR ALL: together with the inherited UPDATE (email, password_hash, ...) grant it let a
-- moderator's session rewrite any user's email or password hash, and turned a missing
-- WHERE in an admin request into an update of every account. Role changes go through
-- the owner connection (`asora users grant-role`), never through these roles.
DROP POLICY users_admin_all ON users;
CREATE POLICY users_admin_select ON users FOR SELECT TO asora_admin USING (true);
