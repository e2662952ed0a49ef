package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/signing"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/sqlite"
	"github.com/callgate/callgate/internal/store/sqlstore"
	"github.com/callgate/callgate/internal/wire"
)

// dbBackend does the admin commands' work offline, on the database itself:
// SQLite in --data or PostgreSQL with --db. A server may be running on the
// same database; SQLite and PostgreSQL both allow it. Every write it makes
// records its audit event at once, with the local user as the actor
// (record, audit.go); through REST the server records them.
type dbBackend struct {
	st   *sqlstore.Store
	desc string     // the database, for messages
	app  *store.App // the app the command works on; nil for apps commands
}

// openDB opens the database of sf for the apps commands, which work on no
// one app; create allows a new empty database (adminOpenStore).
func openDB(ctx context.Context, sf *storeFlags, create bool) (*dbBackend, error) {
	st, desc, err := adminOpenStore(ctx, sf, create)
	if err != nil {
		return nil, err
	}
	return &dbBackend{st: st, desc: desc}, nil
}

// openDBApp opens the database of sf and picks the app of an offline
// command (adminOfflineApp).
func openDBApp(ctx context.Context, sf *storeFlags, appFlag string) (*dbBackend, error) {
	b, err := openDB(ctx, sf, false)
	if err != nil {
		return nil, err
	}
	if b.app, err = adminOfflineApp(ctx, b.st, b.desc, appFlag, sf.data); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// offlineReply is an offline answer about app: --json prints v itself.
func offlineReply[T any](app string, v T) adminReply[T] { return adminReply[T]{v: v, out: v, app: app} }

func (b *dbBackend) Close() error { return b.st.Close() }

// CreateApp creates an app and its first two keys, an authOnly and a
// fullAccess one (apps have no REST route: offline only).
func (b *dbBackend) CreateApp(ctx context.Context, id, name, region string) (adminNewApp, error) {
	now := time.Now()
	app, err := provision.CreateApp(ctx, b.st, id, name, region, now)
	if errors.Is(err, store.ErrAlreadyExists) {
		return adminNewApp{}, fmt.Errorf("app %q already exists in %s\n  pick another --id (`callgate apps list` shows the apps there)", id, b.desc)
	}
	if err != nil {
		return adminNewApp{}, fmt.Errorf("create app in %s: %w", b.desc, err)
	}
	out := adminNewApp{AppID: app.ID, Name: app.Name, Region: app.Region, CreatedAt: app.CreatedAt}
	for _, k := range []struct{ name, scope string }{
		{"auth key", store.ScopeAuthOnly},
		{"REST API key", store.ScopeFullAccess},
	} {
		secret, key, err := provision.CreateAPIKey(ctx, b.st, app.ID, k.name, k.scope, now)
		if err != nil {
			return adminNewApp{}, fmt.Errorf("app %s was created but its %s was not: %w\n  create it with `callgate keys create --app %s --scope %s --name %q`", app.ID, k.name, err, app.ID, k.scope, k.name)
		}
		out.Keys = append(out.Keys, wire.KeyOf(key, secret))
		if k.scope == store.ScopeAuthOnly {
			out.AuthKey = secret
		} else {
			out.RESTAPIKey = secret
		}
	}
	// The log has no action for an app's creation; its keys are what an
	// attacker would want, so their creation is what it records.
	for _, k := range out.Keys {
		if err := b.record(ctx, app.ID, "apikey.create", k.ID, map[string]any{"name": k.Name, "scope": k.Scope}); err != nil {
			return out, err
		}
	}
	return out, nil
}

// ListApps lists the apps with how many keys and users each has.
func (b *dbBackend) ListApps(ctx context.Context) ([]adminAppRow, error) {
	apps, err := b.st.ListApps(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]adminAppRow, 0, len(apps))
	for _, a := range apps {
		keys, err := b.st.ListAPIKeys(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		_, users, err := b.st.ListUsers(ctx, a.ID, store.UserQuery{Limit: 1})
		if err != nil {
			return nil, err
		}
		rows = append(rows, adminAppRow{AppID: a.ID, Name: a.Name, Region: a.Region, CreatedAt: a.CreatedAt,
			Keys: len(keys), Users: users, Settings: a.Settings})
	}
	return rows, nil
}

// ChangeApp applies ch to the app as PUT /app does — the same checks
// (provision.ValidAppName, provision.PatchSettings), the same field names —
// and answers the app as GET /app shows it, with the names of what
// changed. With problems (bad, by field) nothing is written. An empty ch
// only reads.
func (b *dbBackend) ChangeApp(ctx context.Context, ch appChange) (out wire.App, changed []string, bad map[string]string, err error) {
	a := *b.app
	if !ch.empty() {
		bad = map[string]string{}
		if ch.name != nil {
			if why := provision.ValidAppName(*ch.name); why != "" {
				bad["name"] = why
			}
			a.Name = strings.TrimSpace(*ch.name)
		}
		for f, why := range provision.PatchSettings(&a.Settings, ch.settings) {
			bad[f] = why
		}
		if len(bad) > 0 {
			return wire.App{}, nil, bad, nil
		}
		if err := b.st.UpdateApp(ctx, &a); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return wire.App{}, nil, nil, fmt.Errorf("app %s was deleted from %s meanwhile; nothing was changed", a.ID, b.desc)
			}
			return wire.App{}, nil, nil, fmt.Errorf("change app %s in %s: %w", a.ID, b.desc, err)
		}
		if ch.name != nil {
			changed = append(changed, "name")
		}
		for _, s := range provision.SettingNames {
			if _, ok := ch.settings[s]; ok {
				changed = append(changed, s)
			}
		}
		b.app = &a
		// As PUT /app records it: the new name, the settings as given.
		details := map[string]any{}
		if ch.name != nil {
			details["name"] = a.Name
		}
		if len(ch.settings) > 0 {
			details["settings"] = ch.settings
		}
		err = b.record(ctx, a.ID, "app.update", a.ID, details)
	}
	return wire.AppOf(&a, int64(signing.TTL(&a).Seconds()), signing.Grants(&a)), changed, nil, err
}

func (b *dbBackend) CreateAPIKey(ctx context.Context, name, scope string) (adminReply[adminKey], error) {
	secret, k, err := provision.CreateAPIKey(ctx, b.st, b.app.ID, strings.TrimSpace(name), scope, time.Now())
	if errors.Is(err, store.ErrLimitReached) {
		return adminReply[adminKey]{}, fmt.Errorf("app %s already has the maximum of %d API keys\n  delete one first: `callgate keys list` then `callgate keys delete KEY_ID`", b.app.ID, provision.MaxAPIKeys)
	}
	if err != nil {
		return adminReply[adminKey]{}, err
	}
	err = b.record(ctx, b.app.ID, "apikey.create", k.ID, map[string]any{"name": k.Name, "scope": k.Scope})
	return offlineReply(b.app.ID, wire.KeyOf(k, secret)), err
}

func (b *dbBackend) ListAPIKeys(ctx context.Context) (adminReply[[]adminKey], error) {
	ks, err := b.st.ListAPIKeys(ctx, b.app.ID)
	if err != nil {
		return adminReply[[]adminKey]{}, err
	}
	keys := make([]adminKey, len(ks))
	for i, k := range ks {
		keys[i] = wire.KeyOf(k, "")
	}
	return offlineReply(b.app.ID, keys), nil
}

func (b *dbBackend) DeleteAPIKey(ctx context.Context, ref string) (adminReply[adminResult], error) {
	var k *store.APIKey
	var err error
	if credential.IsAPIKey(ref) {
		k, err = b.st.GetAPIKeyByHash(ctx, b.app.ID, credential.Hash(ref))
	} else {
		k, err = b.st.GetAPIKey(ctx, b.app.ID, ref)
	}
	if err == nil {
		err = b.st.DeleteAPIKey(ctx, b.app.ID, k.ID)
	}
	if errors.Is(err, store.ErrNotFound) {
		return adminReply[adminResult]{}, fmt.Errorf("app %s has no API key %q\n  `callgate keys list --app %s` shows its keys", b.app.ID, ref, b.app.ID)
	}
	if err != nil {
		return adminReply[adminResult]{}, err
	}
	// The target is the key's id, never ref: ref may be the secret itself.
	err = b.record(ctx, b.app.ID, "apikey.delete", k.ID, map[string]any{"name": k.Name, "scope": k.Scope})
	return offlineReply(b.app.ID, adminResult{Success: true, Message: "API key " + k.ID + " deleted."}), err
}

func (b *dbBackend) ListSigningKeys(ctx context.Context) (adminReply[[]adminSigningKey], error) {
	ks, err := b.st.ListSigningKeys(ctx, b.app.ID)
	if err != nil {
		return adminReply[[]adminSigningKey]{}, err
	}
	now := time.Now().Unix()
	keys := make([]adminSigningKey, len(ks))
	for i, k := range ks {
		keys[i] = wire.SigningKeyOf(k, now)
	}
	return offlineReply(b.app.ID, keys), nil
}

func (b *dbBackend) RotateSigningKey(ctx context.Context, opts rotateOptions) (adminReply[adminRotation], error) {
	now := time.Now()
	active, retired, err := signing.Rotate(ctx, b.st, opts.keyring, b.app, now, opts.leeway)
	if err != nil {
		if errors.Is(err, signing.ErrMasterKeyRequired) {
			return adminReply[adminRotation]{}, fmt.Errorf("app %s's signing keys are encrypted: pass --master-key-file with the server's master key", b.app.ID)
		}
		return adminReply[adminRotation]{}, err
	}
	var rot adminRotation
	rot.Active = wire.SigningKeyOf(active, now.Unix())
	retiredKID := ""
	if retired != nil {
		v := wire.SigningKeyOf(retired, now.Unix())
		rot.Retired = &v
		retiredKID = retired.ID
	}
	err = b.record(ctx, b.app.ID, "signingkey.rotate", active.ID, map[string]any{"retired": retiredKID})
	return offlineReply(b.app.ID, rot), err
}

// adminOpenStore opens the database of storeFlags for an offline command.
// Unless create is set, a data dir without a database is an error rather
// than a new empty database.
func adminOpenStore(ctx context.Context, sf *storeFlags, create bool) (*sqlstore.Store, string, error) {
	if sf.db == "" && !create {
		path := filepath.Join(sf.data, sqlite.FileName)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, "", fmt.Errorf("no callgate database at %s\n  pass --data DIR (the data directory of your server) or --db postgres://…, or create an app first with `callgate apps create --data %s`", path, sf.data)
		}
	}
	return sf.open(ctx)
}

// adminOfflineApp picks the app of an offline command: --app, else the app
// of {data}/dev-credentials.json, else the only app of the database.
func adminOfflineApp(ctx context.Context, st store.Store, desc, appFlag, data string) (*store.App, error) {
	id := strings.ToLower(strings.TrimSpace(appFlag))
	if id == "" {
		if c, err := provision.ReadDevCredentials(filepath.Join(data, provision.DevCredentialsFile)); err == nil && c.AppID != "" {
			id = c.AppID
		}
	}
	if id == "" {
		apps, err := st.ListApps(ctx)
		if err != nil {
			return nil, err
		}
		switch len(apps) {
		case 0:
			return nil, fmt.Errorf("%s holds no app yet\n  create one with `callgate apps create` (it prints the app's first keys)", desc)
		case 1:
			return apps[0], nil
		}
		ids := make([]string, len(apps))
		for i, a := range apps {
			ids[i] = a.ID
		}
		sort.Strings(ids)
		return nil, fmt.Errorf("%s holds %d apps (%s): pass --app APP_ID (or set CALLGATE_APP)", desc, len(apps), strings.Join(ids, ", "))
	}
	a, err := st.GetApp(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("app %q does not exist in %s\n  `callgate apps list` shows the apps there; `callgate apps create --id %s` creates it", id, desc, id)
	}
	return a, err
}
