package calltoken_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/callgate/callgate/calltoken"
)

// A media server admitting a user to a room. (Not run: it needs a callgate
// server; TestAgainstServer does the same against a real one.)
func ExampleNewVerifier() {
	// Once, at start.
	v := calltoken.NewVerifier("https://callgate.example.com/.well-known/jwks.json",
		calltoken.WithAppID("my-app"),
		calltoken.WithLeeway(30*time.Second),
	)

	// Per join request.
	join := func(ctx context.Context, room, token string) error {
		claims, err := v.Verify(ctx, token)
		switch {
		case errors.Is(err, calltoken.ErrExpired):
			return errors.New("token expired: ask the client for a fresh one")
		case err != nil:
			return err // ErrInvalid (refuse) or ErrKeysUnavailable (retry)
		case claims.SessionID != room || !claims.Grants.Join:
			return errors.New("not allowed in this room")
		}
		log.Printf("admitting %s (%s), audio %v video %v", claims.UID, claims.Name,
			claims.Grants.PublishAudio, claims.Grants.PublishVideo)
		return nil
	}
	_ = join
}
