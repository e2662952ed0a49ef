// Package realtime is callgate's live layer: WebSocket connections per
// session, presence (a user is online while one of their connections is
// live), and revocation that closes every connection of a dead token —
// on one node, or on many sharing PostgreSQL (events cross nodes on a Bus).
//
// It reads sessions and records presence through internal/store and must
// not import internal/server: the server drives the hub (Serve, Revoke…),
// hears other nodes through Config.OnRemote, and follows every event
// (its own and other nodes') through Watch, so the dependency runs one
// way. The SDK (package calls) imports no internal package: it mirrors
// Reasons, and a test in calls keeps the two equal.
package realtime
