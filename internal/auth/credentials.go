// Package auth holds callgate's credential primitives: generating API keys and
// auth tokens, hashing them for storage, comparing them in constant time, and
// the naming rules for app ids, regions and uids.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
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

// NewAuthToken returns a token in the CometChat format
// {uid}_{unix seconds}{64 hex} (256 random bits) and its storage key.
func NewAuthToken(uid string, now time.Time) (token string, key []byte) {
	token = uid + "_" + strconv.FormatInt(now.Unix(), 10) + randomHex(32)
	key, _ = TokenKey(token)
	return token, key
}

// TokenKey is how a token is stored and looked up: the uid, a zero byte,
// the creation second (big-endian) and the SHA-256 of the whole token, all
// taken from the token itself. Keys sort by user, so one B-tree serves both
// lookups by token and every per-user query (TokenKeyRange) and a login
// writes one index page instead of two; within a user they sort by time.
// The hash is what makes the key unguessable and unique. ok is false when s
// does not have a token's shape.
func TokenKey(s string) (key []byte, ok bool) {
	uid, secs, ok := parseToken(s)
	if !ok {
		return nil, false
	}
	key = make([]byte, 0, len(uid)+1+8+sha256.Size)
	key = append(append(key, uid...), 0)
	key = binary.BigEndian.AppendUint64(key, uint64(secs))
	h := sha256.Sum256([]byte(s))
	return append(key, h[:]...), true
}

// TokenKeyRange bounds the keys of uid's tokens: lo ≤ key < hi. uids never
// hold a zero byte, so the range holds exactly that user's tokens.
func TokenKeyRange(uid string) (lo, hi []byte) {
	lo = append([]byte(uid), 0)
	hi = append([]byte(uid), 1)
	return lo, hi
}

// TokenUID returns the uid a token was minted for, if s has a token's shape.
func TokenUID(s string) (uid string, ok bool) {
	uid, _, ok = parseToken(s)
	return uid, ok
}

func parseToken(s string) (uid string, secs int64, ok bool) {
	i := strings.LastIndexByte(s, '_')
	if i <= 0 {
		return "", 0, false
	}
	tail := s[i+1:]
	if len(tail) < 64+1 || len(tail) > 64+19 || !isHex(tail[len(tail)-64:]) {
		return "", 0, false
	}
	secs, err := strconv.ParseInt(tail[:len(tail)-64], 10, 64)
	if err != nil || secs < 0 {
		return "", 0, false
	}
	return s[:i], secs, true
}

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

// MaxUIDLen is the longest uid.
const MaxUIDLen = 100

// NormalizeUID lowercases uid and checks it is 1–100 characters of [a-z0-9_-].
// It returns the reason when it is not.
func NormalizeUID(uid string) (string, string) {
	if uid == "" {
		return "", "must not be empty"
	}
	if len(uid) > MaxUIDLen {
		return "", "must be at most 100 characters"
	}
	// Check before lowercasing: Unicode case mapping turns some non-ASCII
	// letters (U+0130) into ASCII ones.
	if !charset(uid, true) {
		return "", "may only contain a-z, 0-9, _ and -"
	}
	return strings.ToLower(uid), ""
}

// ValidAppID reports whether id is a valid app id: lowercase [a-z0-9-], ≤ 64.
func ValidAppID(id string) bool { return id != "" && len(id) <= 64 && charset(id, false) }

// ValidRegion reports whether r is a valid region: lowercase [a-z0-9-], ≤ 32.
func ValidRegion(r string) bool { return r != "" && len(r) <= 32 && charset(r, false) }

func charset(s string, uid bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if uid && ('A' <= c && c <= 'Z' || c == '_') {
			continue
		}
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' {
			continue
		}
		return false
	}
	return true
}
