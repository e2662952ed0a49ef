CREATE TABLE apps (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	region     TEXT NOT NULL,
	settings   TEXT NOT NULL DEFAULT '{}',
	created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	app_id     TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	scope      TEXT NOT NULL,
	hash       BYTEA NOT NULL UNIQUE,
	created_at BIGINT NOT NULL
);
CREATE INDEX api_keys_app ON api_keys(app_id);

CREATE TABLE users (
	app_id         TEXT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
	uid            TEXT NOT NULL,
	name           TEXT NOT NULL,
	avatar         TEXT NOT NULL DEFAULT '',
	link           TEXT NOT NULL DEFAULT '',
	role           TEXT NOT NULL DEFAULT 'default',
	metadata       TEXT,
	tags           TEXT NOT NULL DEFAULT '[]',
	last_active_at BIGINT NOT NULL DEFAULT 0,
	created_at     BIGINT NOT NULL,
	updated_at     BIGINT NOT NULL,
	deactivated_at BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (app_id, uid)
);

-- Tokens are looked up by the SHA-256 of the secret; the plaintext is never stored.
CREATE TABLE auth_tokens (
	hash         BYTEA PRIMARY KEY,
	id           TEXT NOT NULL,
	app_id       TEXT NOT NULL,
	uid          TEXT NOT NULL,
	platform     TEXT NOT NULL DEFAULT '',
	device_id    TEXT NOT NULL DEFAULT '',
	user_agent   TEXT NOT NULL DEFAULT '',
	created_at   BIGINT NOT NULL,
	last_used_at BIGINT NOT NULL DEFAULT 0,
	expires_at   BIGINT NOT NULL DEFAULT 0,
	FOREIGN KEY (app_id, uid) REFERENCES users(app_id, uid) ON DELETE CASCADE
);
CREATE UNIQUE INDEX auth_tokens_user_id ON auth_tokens(app_id, uid, id);
CREATE INDEX auth_tokens_expiry ON auth_tokens(expires_at) WHERE expires_at > 0;
