package signing_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/signing"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/sqlite"
)

var master = bytes.Repeat([]byte{0x5a}, 32)

func TestParseMasterKey(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"hex", hex.EncodeToString(master), true},
		{"hex upper case, newline", strings.ToUpper(hex.EncodeToString(master)) + "\n", true},
		{"base64", base64.StdEncoding.EncodeToString(master), true},
		{"base64 unpadded", base64.RawStdEncoding.EncodeToString(master), true},
		{"base64url", base64.URLEncoding.EncodeToString(master), true},
		{"raw 32 bytes", string(master), false},
		{"32 characters", "0123456789abcdef0123456789abcdef", false},
		{"spaces around", "  " + hex.EncodeToString(master) + "  \r\n", true},
		{"empty", "", false},
		{"short hex", hex.EncodeToString(master[:16]), false},
		{"long hex", hex.EncodeToString(append(master, 1)), false},
		{"base64 of 31 bytes", base64.StdEncoding.EncodeToString(master[:31]), false},
		{"a passphrase", "correct horse battery staple", false},
		{"hex with a bad digit", "z" + hex.EncodeToString(master)[1:], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := signing.ParseMasterKey([]byte(tc.in))
			if tc.ok != (err == nil) {
				t.Fatalf("ParseMasterKey = %v, want ok %v", err, tc.ok)
			}
			if tc.ok && !bytes.Equal(k, master) {
				t.Errorf("key %x, want %x", k, master)
			}
		})
	}
}

func TestLoadMasterKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := hex.EncodeToString(master)
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{"0600", write("a", 0o600, good), ""},
		{"0400", write("b", 0o400, good), ""},
		{"0644 refused", write("c", 0o644, good), "mode"},
		{"0640 refused", write("d", 0o640, good), "chmod 600"},
		{"0604 refused", write("e", 0o604, good), "mode"},
		{"bad content", write("f", 0o600, "nope"), "hex"},
		{"missing", filepath.Join(dir, "missing"), "no such file"},
		{"a directory", dir, "not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kr, err := signing.LoadMasterKeyFile(tc.path)
			if tc.wantErr == "" {
				if err != nil || !kr.Encrypts() {
					t.Fatalf("LoadMasterKeyFile = %v, %v", kr, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("LoadMasterKeyFile = %v, want an error with %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), good) {
				t.Error("the error quotes the key")
			}
		})
	}
}

func TestSealOpen(t *testing.T) {
	kr, err := signing.NewKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := signing.NewKeyring(bytes.Repeat([]byte{1}, 32))
	if _, err := signing.NewKeyring(master[:16]); err == nil {
		t.Error("NewKeyring took a 16-byte key")
	}
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name string
		kr   *signing.Keyring
	}{{"raw", nil}, {"encrypted", kr}} {
		t.Run(tc.name, func(t *testing.T) {
			rec, sg, err := signing.Generate("app1", now, tc.kr)
			if err != nil {
				t.Fatal(err)
			}
			if rec.ID != signing.KeyID(ed25519.PublicKey(rec.PublicKey)) || rec.Algorithm != "EdDSA" || rec.AppID != "app1" ||
				rec.CreatedAt != now.Unix() || rec.RetiredAt != 0 || sg.KID != rec.ID {
				t.Errorf("record %+v", rec)
			}
			if signing.Encrypted(rec.Private) != tc.kr.Encrypts() {
				t.Errorf("Encrypted = %v", signing.Encrypted(rec.Private))
			}
			if tc.kr != nil && bytes.Contains(rec.Private, sg.Key.Seed()) {
				t.Error("the sealed key contains the seed")
			}
			opened, err := signing.Open(rec, tc.kr)
			if err != nil {
				t.Fatal(err)
			}
			if !opened.Key.Equal(sg.Key) {
				t.Error("opened a different key")
			}
			msg := []byte("hello")
			if !ed25519.Verify(ed25519.PublicKey(rec.PublicKey), msg, ed25519.Sign(opened.Key, msg)) {
				t.Error("the opened key does not sign for the public key")
			}
			// Tampering is caught.
			moved := *rec
			moved.ID = "another-kid"
			if _, err := signing.Open(&moved, tc.kr); tc.kr != nil && err == nil {
				t.Error("a sealed key opened under another kid")
			}
			swapped := *rec
			_, other2, _ := signing.Generate("app1", now, nil)
			swapped.PublicKey = other2.Key.Public().(ed25519.PublicKey)
			if _, err := signing.Open(&swapped, tc.kr); err == nil {
				t.Error("a private key opened for a public key it does not match")
			}
			if tc.kr != nil {
				if _, err := signing.Open(rec, nil); !errors.Is(err, signing.ErrMasterKeyRequired) {
					t.Errorf("no master key: %v", err)
				}
				if _, err := signing.Open(rec, other); !errors.Is(err, signing.ErrWrongMasterKey) {
					t.Errorf("wrong master key: %v", err)
				}
				trunc := *rec
				trunc.Private = rec.Private[:10]
				if _, err := signing.Open(&trunc, tc.kr); err == nil {
					t.Error("a truncated key opened")
				}
			}
			for _, bad := range [][]byte{nil, {0x7f, 1, 2}} {
				b := *rec
				b.Private = bad
				if _, err := signing.Open(&b, tc.kr); err == nil {
					t.Errorf("Open(%x) succeeded", bad)
				}
			}
		})
	}
}

// TestKeyID checks the thumbprint against RFC 8037 appendix A.3.
func TestKeyID(t *testing.T) {
	x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if got, want := signing.KeyID(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("KeyID = %s, want %s", got, want)
	}
}

func TestTTLGrantsPublishedUntil(t *testing.T) {
	app := func(s store.AppSettings) *store.App { return &store.App{ID: "a", Settings: s} }
	for _, tc := range []struct {
		set  store.AppSettings
		want time.Duration
	}{
		{store.AppSettings{}, time.Hour},
		{store.AppSettings{CallTokenTTL: -5}, time.Hour},
		{store.AppSettings{CallTokenTTL: 60}, time.Minute},
		{store.AppSettings{CallTokenTTL: 86400}, 24 * time.Hour},
		{store.AppSettings{CallTokenTTL: 86401}, 24 * time.Hour},
		{store.AppSettings{CallTokenTTL: 1 << 62}, 24 * time.Hour},
	} {
		if got := signing.TTL(app(tc.set)); got != tc.want {
			t.Errorf("TTL(%+v) = %v, want %v", tc.set, got, tc.want)
		}
	}
	if g := signing.Grants(app(store.AppSettings{})); g != store.DefaultCallGrants || !g.Join || g.Moderator {
		t.Errorf("default grants %+v", g)
	}
	custom := &store.CallGrants{Moderator: true}
	if g := signing.Grants(app(store.AppSettings{CallGrants: custom})); g != *custom {
		t.Errorf("grants %+v", g)
	}
	at := time.Unix(1000, 999_000_000)
	if got := signing.PublishedUntil(app(store.AppSettings{CallTokenTTL: 600}), at, 10*time.Second); got != 1000+600+10+30 {
		t.Errorf("PublishedUntil = %d, want %d", got, 1000+600+10+30)
	}
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestActiveRotateEnsure(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Unix(1_800_000_000, 0)
	a, err := provision.CreateApp(ctx, st, "app-a", "A", "us", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provision.CreateApp(ctx, st, "app-b", "B", "us", now); err != nil {
		t.Fatal(err)
	}
	kr, _ := signing.NewKeyring(master)

	// EnsureAll creates one key per app, once.
	if n, err := signing.EnsureAll(ctx, st, kr, now); err != nil || n != 2 {
		t.Fatalf("EnsureAll = %d, %v; want 2", n, err)
	}
	if n, err := signing.EnsureAll(ctx, st, kr, now); err != nil || n != 0 {
		t.Fatalf("EnsureAll again = %d, %v; want 0", n, err)
	}
	s1, err := signing.Active(ctx, st, kr, a.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	// Active on an app without a key creates it.
	if _, err := provision.CreateApp(ctx, st, "app-c", "C", "us", now); err != nil {
		t.Fatal(err)
	}
	sc, err := signing.Active(ctx, st, kr, "app-c", now)
	if err != nil {
		t.Fatal(err)
	}
	if sc2, _ := signing.Active(ctx, st, kr, "app-c", now); sc2.KID != sc.KID {
		t.Error("Active created a second key")
	}
	if _, err := signing.Active(ctx, st, kr, "no-such-app", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Active(no app) = %v", err)
	}

	// Rotation: a raw key is never put among encrypted ones.
	if _, _, err := signing.Rotate(ctx, st, nil, a, now, signing.DefaultLeeway); !errors.Is(err, signing.ErrMasterKeyRequired) {
		t.Fatalf("Rotate without the master key = %v, want ErrMasterKeyRequired", err)
	}
	later := now.Add(time.Minute)
	active, retired, err := signing.Rotate(ctx, st, kr, a, later, signing.DefaultLeeway)
	if err != nil {
		t.Fatal(err)
	}
	if retired == nil || retired.ID != s1.KID || retired.RetiredAt != later.Unix() ||
		retired.PublishedUntil != later.Unix()+3600+30+30 || active.ID == s1.KID || active.Private != nil {
		t.Errorf("Rotate = %+v, %+v", active, retired)
	}
	s2, _ := signing.Active(ctx, st, kr, a.ID, later)
	if s2.KID != active.ID {
		t.Errorf("active key %s, want %s", s2.KID, active.ID)
	}
	// A later rotation removes keys whose publication ended.
	much := later.Add(2 * time.Hour)
	if _, _, err := signing.Rotate(ctx, st, kr, a, much, signing.DefaultLeeway); err != nil {
		t.Fatal(err)
	}
	keys, _ := st.ListSigningKeys(ctx, a.ID)
	if len(keys) != 2 || keys[0].ID != active.ID {
		t.Errorf("after two rotations the app keeps %d keys (first %s), want the last two", len(keys), keys[0].ID)
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Unix(1_800_000_000, 0)
	kr, _ := signing.NewKeyring(master)
	other, _ := signing.NewKeyring(bytes.Repeat([]byte{3}, 32))
	if err := signing.Check(ctx, st, nil, 10); err != nil {
		t.Fatalf("empty store: %v", err)
	}
	provision.CreateApp(ctx, st, "app-a", "A", "us", now)
	provision.CreateApp(ctx, st, "app-b", "B", "us", now)
	if _, err := signing.Active(ctx, st, kr, "app-b", now); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		kr   *signing.Keyring
		want error
	}{
		{"right key", kr, nil},
		{"no key", nil, signing.ErrMasterKeyRequired},
		{"another key", other, signing.ErrWrongMasterKey},
	} {
		if err := signing.Check(ctx, st, tc.kr, 10); !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("%s: Check = %v, want %v", tc.name, err, tc.want)
		}
	}
}
