package credential

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fuzz targets of the naming rules and the token shape: every value here
// comes from a request (paths, bodies, headers), so each is checked against
// an independent statement of its rule. Seeds: the f.Add calls and
// testdata/fuzz/<target>/; docs/fuzzing.md says how to run them.

var (
	uidRE    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)
	lowUID   = regexp.MustCompile(`^[a-z0-9_-]{1,100}$`)
	appIDRE  = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	regionRE = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
	tokenRE  = regexp.MustCompile(`^([a-z0-9_-]{1,100})_(0|[1-9][0-9]{0,18})([0-9a-f]{64})$`)
)

// FuzzNormalizeUID: a uid NormalizeUID accepts is lower-case
// [a-z0-9_-]{1,100}, the input with its ASCII letters lowered, and
// normalises to itself; it accepts exactly the inputs of 1–100 characters of
// [A-Za-z0-9_-] (so no Unicode case mapping sneaks a letter in), and says
// why it refuses the rest.
func FuzzNormalizeUID(f *testing.F) {
	for _, s := range []string{"cometchat-uid-1", "Cometchat-UID-1", "a_b-c9", "", " ", "has space", "ünïcode",
		"İ", "K", "ſ", "a/b", "../x", "a\x00b", strings.Repeat("a", 100), strings.Repeat("A", 101)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, reason := NormalizeUID(s)
		if want := uidRE.MatchString(s); (reason == "") != want {
			t.Fatalf("NormalizeUID(%q) = %q, reason %q; the rule says accepted=%v", s, got, reason, want)
		}
		if reason != "" {
			if got != "" {
				t.Fatalf("NormalizeUID(%q) refused (%s) but returned %q", s, reason, got)
			}
			return
		}
		if !lowUID.MatchString(got) {
			t.Fatalf("NormalizeUID(%q) = %q: not lower-case [a-z0-9_-]{1,100}", s, got)
		}
		if len(got) != len(s) || !strings.EqualFold(got, s) {
			t.Fatalf("NormalizeUID(%q) = %q: not the same uid", s, got)
		}
		if again, r := NormalizeUID(got); again != got || r != "" {
			t.Fatalf("NormalizeUID(%q) = %q, %q: not idempotent", got, again, r)
		}
	})
}

// FuzzValidAppIDRegion: app ids are [a-z0-9-]{1,64}, regions
// [a-z0-9-]{1,32}; nothing else passes, upper case included.
func FuzzValidAppIDRegion(f *testing.F) {
	for _, s := range []string{"abc", "a-1", "us", "eu-west-1", "", "A", "a_b", "a b", "a.b", "é",
		strings.Repeat("a", 32), strings.Repeat("a", 33), strings.Repeat("a", 64), strings.Repeat("a", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidAppID(s), appIDRE.MatchString(s); got != want {
			t.Fatalf("ValidAppID(%q) = %v, want %v", s, got, want)
		}
		if got, want := ValidRegion(s), regionRE.MatchString(s); got != want {
			t.Fatalf("ValidRegion(%q) = %v, want %v", s, got, want)
		}
	})
}

// FuzzIsAPIKey: an API key is exactly 40 lower-case hex characters (what
// NewAPIKey makes); a key id such as key_… never is.
func FuzzIsAPIKey(f *testing.F) {
	k, _ := NewAPIKey()
	for _, s := range []string{k, strings.ToUpper(k), k[:39], k + "0", NewID("key"), "", strings.Repeat("g", 40)} {
		f.Add(s)
	}
	hexRE := regexp.MustCompile(`^[0-9a-f]{40}$`)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := IsAPIKey(s), hexRE.MatchString(s); got != want {
			t.Fatalf("IsAPIKey(%q) = %v, want %v", s, got, want)
		}
	})
}

// FuzzTokenKey: the token parser behind every authToken header and
// token path. TokenKey(s) ok implies TokenUID(s) ok, s is
// {uid}_{second}{64 hex} with the second written as NewToken writes it, and
// the key is uid‖0‖second (big-endian)‖SHA-256(s): inside TokenKeyRange(uid),
// inside TokenKeyRangeBefore(uid, second+1) and outside
// TokenKeyRangeBefore(uid, second). NewToken's tokens for the fuzzed uid
// parse back to it.
func FuzzTokenKey(f *testing.F) {
	tok, _ := NewToken("cometchat-uid-1", time.Unix(1732700000, 0))
	h64 := strings.Repeat("ab", 32)
	for _, s := range []string{tok, "u_0" + h64, "u_1" + h64, "u_+1" + h64, "u_-0" + h64, "u_01" + h64,
		"u_9223372036854775807" + h64, "u_9223372036854775808" + h64, "_1" + h64, "u_x" + h64,
		"u_1" + strings.ToUpper(h64), "a_b_c_1" + h64, "a\x00b_1" + h64, "", "tok_0123456789abcdef"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, ok := TokenKey(s)
		uid, uok := TokenUID(s)
		if ok != uok {
			t.Fatalf("TokenKey(%q) ok=%v but TokenUID ok=%v", s, ok, uok)
		}
		m := tokenRE.FindStringSubmatch(s)
		if !ok {
			if key != nil || uid != "" {
				t.Fatalf("refused %q but returned key %x, uid %q", s, key, uid)
			}
			if m != nil {
				if n, err := strconv.ParseInt(m[2], 10, 64); err == nil && n >= 0 {
					t.Fatalf("refused %q, which has a token's shape", s)
				}
			}
		} else {
			if m == nil || m[1] != uid {
				t.Fatalf("accepted %q (uid %q): not {uid}_{second}{64 hex} as NewToken writes it", s, uid)
			}
			secs, err := strconv.ParseInt(m[2], 10, 64)
			if err != nil {
				t.Fatalf("accepted %q with second %q: %v", s, m[2], err)
			}
			want := append([]byte(uid), 0)
			want = binary.BigEndian.AppendUint64(want, uint64(secs))
			sum := sha256.Sum256([]byte(s))
			want = append(want, sum[:]...)
			if !bytes.Equal(key, want) {
				t.Fatalf("TokenKey(%q) = %x, want uid‖0‖second‖sha256 %x", s, key, want)
			}
			in := func(lo, hi []byte) bool { return bytes.Compare(lo, key) <= 0 && bytes.Compare(key, hi) < 0 }
			if lo, hi := TokenKeyRange(uid); !in(lo, hi) {
				t.Fatalf("key of %q outside TokenKeyRange(%q)", s, uid)
			}
			if secs < 1<<62 {
				if lo, hi := TokenKeyRangeBefore(uid, secs+1); !in(lo, hi) {
					t.Fatalf("key of %q (second %d) outside TokenKeyRangeBefore(%d)", s, secs, secs+1)
				}
			}
			if lo, hi := TokenKeyRangeBefore(uid, secs); in(lo, hi) {
				t.Fatalf("key of %q (second %d) inside TokenKeyRangeBefore(%d)", s, secs, secs)
			}
		}
		// Whatever was fuzzed, a minted token of a uid parses back to it.
		if u, reason := NormalizeUID(s); reason == "" {
			minted, mk := NewToken(u, time.Unix(int64(len(s))*1_000_003, 0))
			if got, ok := TokenUID(minted); !ok || got != u {
				t.Fatalf("TokenUID(NewToken(%q)) = %q, %v", u, got, ok)
			}
			if k, ok := TokenKey(minted); !ok || !Equal(k, mk) {
				t.Fatalf("TokenKey(NewToken(%q)) differs from the key NewToken returned", u)
			}
		}
	})
}
