package credential

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// Hash is how secrets are stored: SHA-256. Keys and tokens carry ≥160 bits
// of randomness, so a fast hash is enough; a slow KDF would only cost latency.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Equal compares two hashes in constant time.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

func randomHex(nBytes int) string {
	b := make([]byte, nBytes)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

// NewAPIKey returns a new key (40 hex characters, 160 random bits) and its hash.
func NewAPIKey() (key string, hash []byte) {
	key = randomHex(20)
	return key, Hash(key)
}

// IsAPIKey reports whether s has the shape of an API key (as opposed to a key id).
func IsAPIKey(s string) bool { return len(s) == 40 && isHex(s) }

// NewID returns a random display id such as "tok_3f9a0c1b2d4e5f60". 64
// bits: ids are not checked for uniqueness (per user), so collisions must be
// negligible.
func NewID(prefix string) string { return prefix + "_" + randomHex(8) }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
