// Package signing manages the Ed25519 keys that sign call tokens, one
// active key per app: it creates them, seals the private half for storage
// (AES-256-GCM under a master key, or raw), opens it again to sign, and
// rotates keys so that the tokens an old key signed keep verifying until
// they expire. The server and the offline CLI both go through here, so a
// key is made, stored and rotated one way.
//
// It imports store (the key records) and nothing else of callgate's.
package signing
