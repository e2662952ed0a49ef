package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/callgate/callgate/internal/store"
)

// Apps are created and listed only here, on the data dir / database
// directly (the server may be running; SQLite and PostgreSQL both allow
// it). Their settings can be changed here too (apps settings), or by the
// app's own fullAccess key through PUT /app.

func newAppsCmd() *cobra.Command {
	return adminGroup("apps", "Create and list apps, show and change their settings (offline, on the data dir or database)",
		`These commands open the database directly — SQLite in --data (default
./callgate-data) or PostgreSQL with --db. They are safe to run while the server is
running on the same database. Creating and listing apps has no REST route; an
app's settings can also be read and changed through a running server with the
app's fullAccess key: GET and PUT /v3/app (docs/api.md).`,
		newAdminAppsCreateCmd(), newAdminAppsListCmd(), newAdminAppsSettingsCmd())
}

func adminAppID(id string) string { return strings.ToLower(strings.TrimSpace(id)) }

// adminNewApp is what apps create prints with --json.
type adminNewApp struct {
	AppID      string     `json:"appId"`
	Name       string     `json:"name"`
	Region     string     `json:"region"`
	CreatedAt  int64      `json:"createdAt"`
	AuthKey    string     `json:"authKey"`
	RESTAPIKey string     `json:"restApiKey"`
	Keys       []adminKey `json:"keys"`
}

func newAdminAppsCreateCmd() *cobra.Command {
	var sf storeFlags
	var id, name, region string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an app and its first two API keys (shown once)",
		Long: `Creates an app and its first keys: an authOnly "auth key" (what a client's
login(uid, apiKey) needs) and a fullAccess "REST API key" (the whole REST API,
for your servers and for the keys/users/tokens commands). The keys are printed
once and stored only as SHA-256 hashes: save them now.`,
		Example: `  callgate apps create --name "My app" --region eu
  callgate apps create --id my-app --db postgres://callgate@localhost/callgate --json`,
		Args: adminArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := openDB(cmd.Context(), &sf, true)
			if err != nil {
				return err
			}
			defer b.Close()
			out, err := b.CreateApp(cmd.Context(), adminAppID(id), strings.TrimSpace(name), strings.ToLower(strings.TrimSpace(region)))
			if err != nil && !errors.Is(err, errUnaudited) {
				return err
			}
			unaudited := err
			w := cmd.OutOrStdout()
			return adminEmitThen(unaudited, w, asJSON, out, func() error {
				fmt.Fprintf(w, "Created app %s in %s.\n\n", out.AppID, b.desc)
				adminFields(w,
					[2]string{"  App ID", out.AppID},
					[2]string{"  Name", out.Name},
					[2]string{"  Region", out.Region},
					[2]string{"  Auth key", out.AuthKey + "   (authOnly: create users and auth tokens — what login(uid, apiKey) needs)"},
					[2]string{"  REST API key", out.RESTAPIKey + "   (fullAccess: the whole REST API; keep it on servers)"},
				)
				fmt.Fprintf(w, "\nThese keys are shown only this once (callgate keeps only their hashes): store them now.\n")
				fmt.Fprintf(w, "With `callgate serve` running on this database, try:\n  callgate users list --server http://127.0.0.1:8080 --app %s --key %s\n", out.AppID, out.RESTAPIKey)
				return nil
			})
		},
	}
	fs := cmd.Flags()
	sf.register(fs)
	fs.StringVar(&id, "id", "", "app ID: 1–64 characters of a-z, 0-9 and - (default: 16 random hex)")
	fs.StringVar(&name, "name", "", "display name (default: the app ID)")
	fs.StringVar(&region, "region", "us", "region: 1–32 characters of a-z, 0-9 and - (us, eu, in)")
	fs.BoolVar(&asJSON, "json", false, "print JSON (appId, authKey, restApiKey, keys…) for scripts")
	return cmd
}

// adminAppRow is one app of apps list --json.
type adminAppRow struct {
	AppID     string            `json:"appId"`
	Name      string            `json:"name"`
	Region    string            `json:"region"`
	CreatedAt int64             `json:"createdAt"`
	Keys      int               `json:"keys"`
	Users     int               `json:"users"`
	Settings  store.AppSettings `json:"settings"`
}

func newAdminAppsListCmd() *cobra.Command {
	var sf storeFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the apps of the data dir or database",
		Example: "  callgate apps list --data ./callgate-data",
		Args:    adminArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := openDB(cmd.Context(), &sf, false)
			if err != nil {
				return err
			}
			defer b.Close()
			rows, err := b.ListApps(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			return adminEmit(w, asJSON, rows, func() error {
				if len(rows) == 0 {
					fmt.Fprintln(w, "No apps yet. Create one with `callgate apps create`.")
					return nil
				}
				table := make([][]string, len(rows))
				for i, r := range rows {
					table[i] = []string{r.AppID, r.Name, r.Region, fmt.Sprint(r.Keys), fmt.Sprint(r.Users), adminTime(r.CreatedAt, "-")}
				}
				printTable(w, []string{"APP ID", "NAME", "REGION", "KEYS", "USERS", "CREATED"}, table)
				return nil
			})
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	return cmd
}
