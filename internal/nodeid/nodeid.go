package nodeid

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns a random node id, prefix-{16 hex}: 64 random bits, so ids of
// nodes started at the same moment do not collide.
func New(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}
