package credential

import (
	"strings"
	"testing"
	"time"
)

func TestAuthTokenFormat(t *testing.T) {
	now := time.Unix(1732700000, 0)
	tok, hash := NewToken("cometchat-uid_1", now)
	if !strings.HasPrefix(tok, "cometchat-uid_1_1732700000") || len(tok) != len("cometchat-uid_1_1732700000")+64 {
		t.Fatalf("bad token %q", tok)
	}
	key, ok := TokenKey(tok)
	if !ok || !Equal(hash, key) {
		t.Fatal("key mismatch")
	}
	// Keys sort by user, then time; a user's keys lie in TokenKeyRange.
	later, _ := NewToken("cometchat-uid_1", now.Add(time.Second))
	lk, _ := TokenKey(later)
	if string(lk) <= string(key) {
		t.Fatal("a user's keys do not sort by creation time")
	}
	lo, hi := TokenKeyRange("cometchat-uid_1")
	for _, k := range [][]byte{key, lk} {
		if string(k) < string(lo) || string(k) >= string(hi) {
			t.Fatal("key outside its user's range")
		}
	}
	// A uid that extends another (uid_1 vs uid_10) is outside its range.
	other, _ := NewToken("cometchat-uid_10", now)
	ok2, _ := TokenKey(other)
	if string(ok2) >= string(lo) && string(ok2) < string(hi) {
		t.Fatal("another user's key inside the range")
	}
	// Change the last hex digit to a different one (never to itself).
	flip := map[byte]string{'0': "1"}[tok[len(tok)-1]]
	if flip == "" {
		flip = "0"
	}
	if k2, _ := TokenKey(tok[:len(tok)-1] + flip); Equal(k2, key) {
		t.Fatal("different tokens, same key")
	}
	uid, ok := TokenUID(tok)
	if !ok || uid != "cometchat-uid_1" {
		t.Fatalf("TokenUID = %q %v", uid, ok)
	}
	another, _ := NewToken("cometchat-uid_1", now)
	if another == tok {
		t.Fatal("tokens repeat")
	}
}

func TestTokenUIDRejects(t *testing.T) {
	for _, s := range []string{"", "tok_0123456789ab", "_1" + strings.Repeat("a", 64), "u_x" + strings.Repeat("a", 64), "u_1" + strings.Repeat("g", 64)} {
		if _, ok := TokenUID(s); ok {
			t.Errorf("TokenUID(%q) accepted", s)
		}
	}
}

// TestTokenKeyRangeBefore: the range holds a user's tokens created before
// the second, and no token created at it or later, nor another user's.
func TestTokenKeyRangeBefore(t *testing.T) {
	const uid = "cometchat-uid_1"
	const before = 1732700000
	lo, hi := TokenKeyRangeBefore(uid, before)
	in := func(k []byte) bool { return string(k) >= string(lo) && string(k) < string(hi) }
	for _, tc := range []struct {
		uid  string
		secs int64
		want bool
	}{
		{uid, 0, true},
		{uid, before - 1, true},
		{uid, before, false},
		{uid, before + 1, false},
		{uid, 1 << 40, false},
		{"cometchat-uid_10", before - 1, false},
		{"cometchat-uid_", before - 1, false},
	} {
		_, key := NewToken(tc.uid, time.Unix(tc.secs, 0))
		if got := in(key); got != tc.want {
			t.Errorf("token of %s at %d in the range before %d: %v, want %v", tc.uid, tc.secs, before, got, tc.want)
		}
	}
	// Nothing is created before 0 (or a negative second).
	for _, b := range []int64{0, -5} {
		lo, hi := TokenKeyRangeBefore(uid, b)
		_, key := NewToken(uid, time.Unix(0, 0))
		if string(key) >= string(lo) && string(key) < string(hi) {
			t.Errorf("a token of second 0 is in the range before %d", b)
		}
	}
}

func TestAPIKey(t *testing.T) {
	k, h := NewAPIKey()
	if !IsAPIKey(k) || len(h) != 32 {
		t.Fatalf("bad key %q", k)
	}
	if IsAPIKey(NewID("key")) {
		t.Fatal("id mistaken for key")
	}
}

func TestNormalizeUID(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{"cometchat-uid-1", "cometchat-uid-1", false},
		{"Cometchat-UID-1", "cometchat-uid-1", false},
		{"a_b-c9", "a_b-c9", false},
		{strings.Repeat("a", 100), strings.Repeat("a", 100), false},
		{"", "", true},
		{strings.Repeat("a", 101), "", true},
		{"has space", "", true},
		{"ünïcode", "", true},
		{"x'; DROP TABLE users;--", "", true},
		{"../../etc/passwd", "", true},
		{"a/b", "", true},
		{"İ", "", true}, // lowercases to a multi-byte rune
	}
	for _, tt := range tests {
		got, reason := NormalizeUID(tt.in)
		if (reason != "") != tt.bad || got != tt.want {
			t.Errorf("NormalizeUID(%q) = %q, %q", tt.in, got, reason)
		}
	}
}

func TestAppIDRegion(t *testing.T) {
	for _, s := range []string{"abc", "a-1", strings.Repeat("a", 64)} {
		if !ValidAppID(s) {
			t.Errorf("ValidAppID(%q) = false", s)
		}
	}
	for _, s := range []string{"", "A", "a_b", "a b", strings.Repeat("a", 65)} {
		if ValidAppID(s) {
			t.Errorf("ValidAppID(%q) = true", s)
		}
	}
	if !ValidRegion("us") || ValidRegion("US") || ValidRegion(strings.Repeat("e", 33)) {
		t.Error("region rules")
	}
}
