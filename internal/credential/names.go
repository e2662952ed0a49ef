package credential

import "strings"

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
