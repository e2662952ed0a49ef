package credential

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"strings"
	"time"
)

// NewToken returns a token in the CometChat format
// {uid}_{unix seconds}{64 hex} (256 random bits) and its storage key.
func NewToken(uid string, now time.Time) (token string, key []byte) {
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

// TokenKeyRangeBefore bounds the keys of uid's tokens created before the
// second before: lo ≤ key < hi. The creation second follows the uid's zero
// byte, big-endian, so those keys are the start of TokenKeyRange(uid): a
// token created at before or later sorts at or after hi (its key extends
// hi).
func TokenKeyRangeBefore(uid string, before int64) (lo, hi []byte) {
	lo, _ = TokenKeyRange(uid)
	hi = make([]byte, 0, len(lo)+8)
	hi = binary.BigEndian.AppendUint64(append(hi, lo...), uint64(max(before, 0)))
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
	// The second as NewToken writes it (strconv.FormatInt of a second
	// since 1970): digits only, no sign, no leading zero. ParseInt alone
	// also took "+1", "-0" and "01", spellings no token was minted with.
	digits := tail[:len(tail)-64]
	if !isDigits(digits) || len(digits) > 1 && digits[0] == '0' {
		return "", 0, false
	}
	secs, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return "", 0, false
	}
	// The uid as tokens are minted for it: a stored uid, normalized to lower
	// case. Anything else (a control character, a zero byte, which would
	// also break TokenKeyRange) is no token's, and is refused here rather
	// than looked up.
	uid = s[:i]
	if len(uid) > MaxUIDLen || !charset(uid, true) || strings.ToLower(uid) != uid {
		return "", 0, false
	}
	return uid, secs, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
