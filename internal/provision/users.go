package provision

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/callgate/callgate/internal/store"
)

// SampleUsers are the five users every dev app gets, as in the seed.
var SampleUsers = []struct{ UID, Name string }{
	{"cometchat-uid-1", "Andrew Joseph"},
	{"cometchat-uid-2", "George Alan"},
	{"cometchat-uid-3", "Nancy Grace"},
	{"cometchat-uid-4", "Susan Marie"},
	{"cometchat-uid-5", "John Paul"},
}

// CreateSampleUsers adds the sample users that do not exist yet.
func CreateSampleUsers(ctx context.Context, st store.Store, appID string, now time.Time) error {
	for _, su := range SampleUsers {
		u := &store.User{AppID: appID, UID: su.UID, Name: su.Name, Role: "default", CreatedAt: now.Unix(), UpdatedAt: now.Unix()}
		if err := st.CreateUser(ctx, u, nil); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("create sample user %s: %w", su.UID, err)
		}
	}
	return nil
}
