package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/secretfile"
	"github.com/callgate/callgate/internal/store"
)

// DevCredentialsFile is written into the data directory in dev mode.
const DevCredentialsFile = "dev-credentials.json"

// DevCredentials is the content of dev-credentials.json: exactly these fields.
type DevCredentials struct {
	AppID      string `json:"appId"`
	Region     string `json:"region"`
	AuthKey    string `json:"authKey"`
	RESTAPIKey string `json:"restApiKey"`
	Host       string `json:"host"`
}

// ReadDevCredentials reads a dev-credentials.json.
func ReadDevCredentials(path string) (*DevCredentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c DevCredentials
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %w", path, err)
	}
	return &c, nil
}

// DevBootstrap makes sure the dev app exists: on the first start it creates
// an app in region us that allows every browser origin, an authOnly and a
// fullAccess key and the sample users;
// later starts reuse what dev-credentials.json names (if the database still
// holds it) and only rewrite host. created reports a first start.
func DevBootstrap(ctx context.Context, st store.Store, dataDir, host string, now time.Time) (creds *DevCredentials, created bool, err error) {
	path := filepath.Join(dataDir, DevCredentialsFile)
	if c, err := ReadDevCredentials(path); err == nil && devCredsValid(ctx, st, c) {
		// A dev app made before corsOrigins existed allows every origin too.
		if app, err := st.GetApp(ctx, c.AppID); err == nil && app.Settings.CORSOrigins == nil {
			app.Settings.CORSOrigins = []string{"*"}
			if err := st.UpdateApp(ctx, app); err != nil {
				return nil, false, err
			}
		}
		c.Host = host
		return c, false, secretfile.WriteJSON(path, c)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	app, err := CreateApp(ctx, st, "", "callgate dev app", "us", now)
	if err != nil {
		return nil, false, err
	}
	// A developer's pages may be on any origin (localhost:5173, a file
	// server…): the dev app allows them all.
	app.Settings.CORSOrigins = []string{"*"}
	if err := st.UpdateApp(ctx, app); err != nil {
		return nil, false, err
	}
	authKey, _, err := CreateAPIKey(ctx, st, app.ID, "dev auth key", store.ScopeAuthOnly, now)
	if err != nil {
		return nil, false, err
	}
	restKey, _, err := CreateAPIKey(ctx, st, app.ID, "dev REST API key", store.ScopeFullAccess, now)
	if err != nil {
		return nil, false, err
	}
	if err := CreateSampleUsers(ctx, st, app.ID, now); err != nil {
		return nil, false, err
	}
	c := &DevCredentials{AppID: app.ID, Region: app.Region, AuthKey: authKey, RESTAPIKey: restKey, Host: host}
	return c, true, secretfile.WriteJSON(path, c)
}

func devCredsValid(ctx context.Context, st store.Store, c *DevCredentials) bool {
	if _, err := st.GetApp(ctx, c.AppID); err != nil {
		return false
	}
	for _, k := range []string{c.AuthKey, c.RESTAPIKey} {
		if _, err := st.GetAPIKeyByHash(ctx, c.AppID, credential.Hash(k)); err != nil {
			return false
		}
	}
	return true
}
