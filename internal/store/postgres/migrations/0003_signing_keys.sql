-- Ed25519 keys that sign call tokens, per app. The private key is stored
-- sealed: AES-256-GCM under the master key (--master-key-file), or raw.
-- A retired key stays published until published_until, when the last
-- token it signed has expired.
CREATE TABLE signing_keys (
	id              TEXT PRIMARY KEY,
	app_id          TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
	algorithm       TEXT NOT NULL,
	public_key      BYTEA NOT NULL,
	private_key     BYTEA NOT NULL,
	created_at      BIGINT NOT NULL,
	retired_at      BIGINT NOT NULL DEFAULT 0,
	published_until BIGINT NOT NULL DEFAULT 0
);
-- At most one active key per app: concurrent first uses on several nodes
-- create one key, not several.
CREATE UNIQUE INDEX signing_keys_active ON signing_keys(app_id) WHERE retired_at = 0;
CREATE INDEX signing_keys_app ON signing_keys(app_id, created_at);
