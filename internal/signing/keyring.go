package signing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// MasterKeySize is the size of the master key: AES-256.
const MasterKeySize = 32

// Formats of a sealed private key, its first byte.
const (
	formatRaw    byte = 0x00 // the 32-byte Ed25519 seed as is
	formatAESGCM byte = 0x01 // nonce (12) || AES-256-GCM(seed), the kid as additional data
)

var (
	// ErrMasterKeyRequired: the stored key is encrypted and no master key
	// was given.
	ErrMasterKeyRequired = errors.New("the signing keys are encrypted: give the master key (--master-key-file) that encrypted them")
	// ErrWrongMasterKey: the stored key does not decrypt with the master key.
	ErrWrongMasterKey = errors.New("the signing key does not decrypt with this master key (--master-key-file): is it the key the server was started with?")
)

// Keyring seals private keys for storage. A nil *Keyring stores them raw
// (the SQLite database is 0600, as are its -wal and -shm files); one made
// from a master key encrypts them with AES-256-GCM.
type Keyring struct {
	aead cipher.AEAD
}

// NewKeyring returns a keyring that encrypts under key (32 bytes).
func NewKeyring(key []byte) (*Keyring, error) {
	if len(key) != MasterKeySize {
		return nil, fmt.Errorf("master key: %d bytes, want %d", len(key), MasterKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keyring{aead: aead}, nil
}

// Encrypts reports whether k encrypts (false for nil: raw storage).
func (k *Keyring) Encrypts() bool { return k != nil && k.aead != nil }

// Encrypted reports whether a sealed private key is encrypted.
func Encrypted(sealed []byte) bool { return len(sealed) > 0 && sealed[0] == formatAESGCM }

// aad binds a ciphertext to its kid: a sealed key copied onto another row
// does not open.
func aad(kid string) []byte { return []byte("callgate/signing-key/v1:" + kid) }

func (k *Keyring) seal(kid string, seed []byte) ([]byte, error) {
	if !k.Encrypts() {
		return append([]byte{formatRaw}, seed...), nil
	}
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte{formatAESGCM}, nonce...)
	return k.aead.Seal(out, nonce, seed, aad(kid)), nil
}

func (k *Keyring) open(kid string, sealed []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, errors.New("no private key stored")
	}
	switch sealed[0] {
	case formatRaw:
		return sealed[1:], nil
	case formatAESGCM:
		if !k.Encrypts() {
			return nil, ErrMasterKeyRequired
		}
		ns := k.aead.NonceSize()
		if len(sealed) < 1+ns+k.aead.Overhead() {
			return nil, errors.New("sealed private key is truncated")
		}
		seed, err := k.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], aad(kid))
		if err != nil {
			return nil, ErrWrongMasterKey
		}
		return seed, nil
	}
	return nil, fmt.Errorf("unknown private key format %#x", sealed[0])
}

// ParseMasterKey decodes a master key: 32 bytes written as hex (64
// characters) or base64 (standard or URL alphabet, padded or not).
// Surrounding whitespace is ignored. Raw bytes are not accepted: a
// 32-character passphrase or hex string must not pass for a key.
func ParseMasterKey(b []byte) ([]byte, error) {
	s := strings.TrimSpace(string(b))
	if len(s) == 2*MasterKeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == MasterKeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("want %d random bytes written as hex (64 characters) or base64, e.g. the output of `openssl rand -hex 32`", MasterKeySize)
}

// LoadMasterKeyFile reads the master key from path. The file must be a
// regular file readable by its owner only (mode 0600 or 0400): a key that
// others can read protects nothing.
func LoadMasterKeyFile(path string) (*Keyring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("master key file %s is not a regular file", path)
	}
	// Windows keeps access in ACLs, and Go reports every file there as 0666
	// or 0444: the mode says nothing, so it is not checked.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("master key file %s has mode %#o: it must be readable by its owner only (chmod 600 %s)", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	key, err := ParseMasterKey(b)
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return NewKeyring(key)
}
