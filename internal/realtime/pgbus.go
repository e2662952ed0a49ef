package realtime

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGBus carries events between nodes with PostgreSQL LISTEN/NOTIFY. The
// channel is named after the schema, so deployments (and tests) sharing a
// database in different schemas do not hear each other.
type PGBus struct {
	dsn     string
	db      *sql.DB
	node    string
	channel string
	log     *slog.Logger
}

// NewPGBus prepares a bus on the database of dsn; db is used to publish.
func NewPGBus(ctx context.Context, dsn string, db *sql.DB, node string, log *slog.Logger) (*PGBus, error) {
	var schema string
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return nil, fmt.Errorf("realtime bus: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PGBus{dsn: dsn, db: db, node: node, channel: "callgate_" + schema, log: log}, nil
}

// Publish sends ev to every other node.
func (b *PGBus) Publish(ctx context.Context, ev Event) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = b.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, b.channel, string(payload))
	return err
}

// Run listens on a dedicated connection, reconnecting with backoff; once
// listening (at first and after every reconnect) it delivers KindResync,
// since events may have been missed.
func (b *PGBus) Run(ctx context.Context, handle func(Event)) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := b.listen(ctx, handle, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		b.log.Warn("realtime: event listener lost its connection; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff + rand.N(backoff/2)):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (b *PGBus) listen(ctx context.Context, handle func(Event), connected func()) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.Connect(cctx, b.dsn)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{b.channel}.Sanitize()); err != nil {
		return err
	}
	connected()
	// Resync after every LISTEN, the first one included: the node serves
	// connections (Start, then Serve) before its listener is up, and a
	// revocation NOTIFYed in that window — or while a lost listener was
	// reconnecting — was never heard. The resync re-checks every live
	// connection against the database, which already has the revocation;
	// later ones arrive as events.
	handle(Event{Kind: KindResync})
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		ev, err := DecodeEvent(n.Payload)
		if err != nil {
			b.log.Warn("realtime: ignoring malformed event", "err", err)
			continue
		}
		if ev.Origin != b.node {
			handle(ev)
		}
	}
}

// DecodeEvent decodes a NOTIFY payload: another node's Publish, or
// whatever else a client of the database sent on the channel.
func DecodeEvent(payload string) (Event, error) {
	var ev Event
	err := json.Unmarshal([]byte(payload), &ev)
	return ev, err
}
