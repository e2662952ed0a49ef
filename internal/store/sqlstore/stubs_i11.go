package sqlstore

import (
	"context"
	"errors"

	"github.com/callgate/callgate/internal/store"
)

// Temporary: the branch base for sessions and the audit log. Replaced by
// the real implementations before it lands.

var errTODO = errors.New("sqlstore: not implemented yet")

func (s *Store) RecordAuditEvents(ctx context.Context, events []*store.AuditEvent) error {
	return errTODO
}

func (s *Store) ListAuditEvents(ctx context.Context, appID string, q store.AuditQuery) ([]*store.AuditEvent, int, error) {
	return nil, 0, errTODO
}

func (s *Store) DeleteAuditEventsBefore(ctx context.Context, before int64) (int, error) {
	return 0, errTODO
}
