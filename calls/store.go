package calls

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// SessionStore keeps the logged-in user of each app between runs, so that a
// process that restarts is still logged in ("login once per user session").
//
// Load returns nil, nil when there is no session. Implementations must be
// safe for concurrent use. The *User handed to Save is the client's own copy
// and must not be kept or modified after Save returns; the *User returned by
// Load becomes the client's.
type SessionStore interface {
	Load(appID string) (*User, error) // nil, nil when there is none
	Save(appID string, u *User) error
	Clear(appID string) error
}

// NewMemoryStore returns a SessionStore that keeps sessions in memory only:
// for tests, and for servers and bots that log in at every start.
func NewMemoryStore() SessionStore {
	return &memoryStore{m: map[string]*User{}}
}

type memoryStore struct {
	mu sync.Mutex
	m  map[string]*User
}

func (s *memoryStore) Load(appID string) (*User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[appID].clone(), nil
}

func (s *memoryStore) Save(appID string, u *User) error {
	if u == nil {
		return s.Clear(appID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[appID] = u.clone()
	return nil
}

func (s *memoryStore) Clear(appID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, appID)
	return nil
}

// NewFileStore returns a SessionStore that keeps one JSON file per app,
// {dir}/{appID}.json, holding the logged-in user (with its auth token). An
// empty dir means the default, os.UserConfigDir()/callgate/sessions.
//
// Files are written atomically (a temporary file in the same directory,
// then a rename) with mode 0600; directories the store creates get 0700. The
// file holds a live credential: treat it like a password.
//
// A file that cannot be parsed is reported through log/slog (slog.Default)
// and treated as no session; the next Save replaces it.
func NewFileStore(dir string) SessionStore {
	return &fileStore{dir: dir}
}

// DefaultSessionDir is where the default file store keeps sessions:
// os.UserConfigDir()/callgate/sessions.
func DefaultSessionDir() (string, error) {
	base, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no user config directory for the session store (%w); set AppSettings.SessionStore", err)
	}
	return filepath.Join(base, "callgate", "sessions"), nil
}

type fileStore struct {
	dir string
	mu  sync.Mutex // orders this process's writes; renames keep other processes safe
}

// path returns the file of appID. appID becomes a file name, so only the
// characters an app id may have are allowed (no separators, no "..").
func (s *fileStore) path(appID string) (string, error) {
	if !validName(appID, 64) {
		return "", fmt.Errorf("calls: invalid app id %q for a session file", appID)
	}
	dir := s.dir
	if dir == "" {
		d, err := DefaultSessionDir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	return filepath.Join(dir, appID+".json"), nil
}

func (s *fileStore) Load(appID string) (*User, error) {
	p, err := s.path(appID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	b, err := os.ReadFile(p)
	s.mu.Unlock()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u, err := decodeSession(b)
	if err != nil {
		slog.Warn("callgate: ignoring a corrupt session file; you are logged out and the next login replaces it",
			"path", p, "err", err)
		return nil, nil
	}
	return u, nil
}

// decodeSession parses a session file: a user object with at least a uid
// and an auth token.
func decodeSession(b []byte) (*User, error) {
	var u *User
	if err := json.Unmarshal(b, &u); err != nil {
		return nil, err
	}
	if u == nil || u.UID == "" || u.AuthToken == "" {
		return nil, errors.New("no uid or authToken in the session")
	}
	return u, nil
}

func (s *fileStore) Save(appID string, u *User) error {
	if u == nil {
		return s.Clear(appID)
	}
	p, err := s.path(appID)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(u, "", "  ")
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create session directory: %w", err)
	}
	return writeFileAtomic(p, append(b, '\n'))
}

// writeFileAtomic writes data to a temporary file next to path (0600),
// syncs it, and renames it over path: readers see the old file or the new
// one, never half of one.
func writeFileAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write session: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return fmt.Errorf("write session: %w", err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write session: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write session: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write session: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write session: %w", err)
	}
	return nil
}

func (s *fileStore) Clear(appID string) error {
	p, err := s.path(appID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
