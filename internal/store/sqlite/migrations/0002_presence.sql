-- Realtime presence. A node holds a lease it renews; a user is online while
-- a node with an unexpired lease holds a connection of theirs, so the users
-- of a crashed node go offline when its lease lapses.
CREATE TABLE nodes (
	id          TEXT PRIMARY KEY,
	lease_until BIGINT NOT NULL,
	started_at  BIGINT NOT NULL
);

CREATE TABLE presence (
	app_id  TEXT NOT NULL,
	uid     TEXT NOT NULL,
	node_id TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
	since   BIGINT NOT NULL,
	PRIMARY KEY (app_id, uid, node_id),
	FOREIGN KEY (app_id, uid) REFERENCES users(app_id, uid) ON DELETE CASCADE
);
CREATE INDEX presence_node ON presence(node_id);
