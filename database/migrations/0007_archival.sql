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
