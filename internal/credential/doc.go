// Package credential holds callgate's credential primitives: generating API
// keys, auth tokens and display ids, hashing them for storage, comparing them
// in constant time, deriving a token's storage key, and the naming rules for
// app ids, regions and uids. It authenticates nothing (that is the server's
// job) and imports nothing of callgate's.
package credential
