// Package apierr is callgate's one catalogue of error codes. Every handler
// returns an *Error built from this table; one function in the server renders
// it, so codes, statuses and wording cannot drift between routes. The
// catalogue also renders docs/errors.md (go run ./internal/apierr/gen).
//
// It imports nothing of callgate's, so anything may use it. Mapping other
// errors onto it (a store that does not answer is 503) is the server's job:
// see errorFor in internal/server.
package apierr
