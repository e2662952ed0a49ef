-- Deliberately no index on auth_tokens(app_id, created_at) for revoking or
-- sweeping a whole app's tokens: measured, it did not pay for what it costs
-- a login (sqlstore's RevokeAuthTokensBefore has the figures).

-- Which node holds a realtime connection of which auth token. A token is
-- connected while a node whose lease has not lapsed holds a row for it (the
-- same rule as presence), and such a token is never deleted as idle. Rows go
-- with their node (RemoveNode, ReapNodes) by cascade. No foreign key to
-- auth_tokens: a token may be deleted while its socket is still closing, and
-- the node's "down" then finds nothing to delete, which is fine.
-- The primary key leads with the token, what Connected and the idle delete
-- look up; the node index serves the cascade.
CREATE TABLE live_tokens (
	token_key BLOB NOT NULL,
	node_id   TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
	PRIMARY KEY (token_key, node_id)
) WITHOUT ROWID;
CREATE INDEX live_tokens_node ON live_tokens(node_id);

-- The audit log: one row per admin write, never a secret. seq is the log's
-- order (the rowid; not AUTOINCREMENT, whose sqlite_sequence row is one
-- more B-tree write per event: a seq may be reused only after retention has
-- emptied the whole table). No foreign key to apps: the log outlives what it records, and an
-- app's events stay after the app is gone until retention removes them.
-- details is a JSON object as text, or NULL.
CREATE TABLE audit_events (
	seq        INTEGER PRIMARY KEY,
	id         TEXT NOT NULL,
	time       INTEGER NOT NULL,
	app_id     TEXT NOT NULL,
	actor_type TEXT NOT NULL,
	actor_id   TEXT NOT NULL,
	action     TEXT NOT NULL,
	target     TEXT NOT NULL DEFAULT '',
	ip         TEXT NOT NULL DEFAULT '',
	request_id TEXT NOT NULL DEFAULT '',
	details    TEXT
);
-- An app's page, newest first (filters by action, actor or target walk the
-- app's events: an audit query is rare, and every index here is paid by the
-- admin write an event records); retention deletes by time across apps.
CREATE INDEX audit_events_app ON audit_events(app_id, seq);
CREATE INDEX audit_events_time ON audit_events(time);
