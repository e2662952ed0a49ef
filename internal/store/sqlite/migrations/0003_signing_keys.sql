-- Ed25519 keys that sign call tokens, per app. The private key is stored
-- sealed: AES-256-GCM under the master key (--master-key-file), or raw in
-- this 0600 database. A retired key stays published until published_until,
-- when the last token it signed has expired.
CREATE TABLE signing_keys (
	id              TEXT PRIMARY KEY,
	app_id          TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
	algorithm       TEXT NOT NULL,
	public_key      BLOB NOT NULL,
	private_key     BLOB NOT NULL,
	created_at      INTEGER NOT NULL,
	retired_at      INTEGER NOT NULL DEFAULT 0,
	published_until INTEGER NOT NULL DEFAULT 0
);
-- At most one active key per app: concurrent first uses on several nodes
-- create one key, not several.
CREATE UNIQUE INDEX signing_keys_active ON signing_keys(app_id) WHERE retired_at = 0;
CREATE INDEX signing_keys_app ON signing_keys(app_id, created_at);
