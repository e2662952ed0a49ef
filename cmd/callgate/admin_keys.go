package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/sqlstore"
	"github.com/callgate/callgate/internal/wire"
)

// The keys commands use the REST API when a server or key is given (--server,
// --key or their environment variables) and otherwise work offline on the
// data dir / database — the bootstrap path for a first key.

func newKeysCmd() *cobra.Command {
	return adminGroup("keys", "Create, list and delete API keys",
		`Manage the API keys of an app.

With --server or --key (or CALLGATE_SERVER / CALLGATE_KEY) the commands call the
REST API of a running server (/v3/apikeys, with a fullAccess key). Without them
they work offline on the database — SQLite in --data or PostgreSQL with --db —
which is how you make a first key for an app that has none.`,
		newAdminKeysCreateCmd(), newAdminKeysListCmd(), newAdminKeysDeleteCmd())
}

// adminKeyFlags are the flags of every keys command.
type adminKeyFlags struct {
	store  storeFlags
	conn   adminConn
	asJSON bool
}

func (f *adminKeyFlags) register(fs *pflag.FlagSet) {
	f.store.register(fs)
	f.conn.register(fs, &f.store.data)
	fs.BoolVar(&f.asJSON, "json", false, "print JSON for scripts")
}

// online reports whether the command goes through the REST API.
func (f *adminKeyFlags) online(cmd *cobra.Command) (bool, error) {
	online := f.conn.server != "" || f.conn.key != ""
	if online && cmd.Flags().Changed("db") {
		return false, errors.New("--db opens the database directly; --server/--key call a running server: pass one or the other")
	}
	return online, nil
}

// offline opens the database and picks the app.
func (f *adminKeyFlags) offline(ctx context.Context) (*sqlstore.Store, *store.App, string, error) {
	st, desc, err := adminOpenStore(ctx, &f.store, false)
	if err != nil {
		return nil, nil, "", err
	}
	app, err := adminOfflineApp(ctx, st, desc, f.conn.app, f.store.data)
	if err != nil {
		st.Close()
		return nil, nil, "", err
	}
	return st, app, desc, nil
}

func newAdminKeysCreateCmd() *cobra.Command {
	var f adminKeyFlags
	var scope, name string
	cmd := &cobra.Command{
		Use:   "create --scope authOnly|fullAccess [--name NAME]",
		Short: "Create an API key (its secret is shown once)",
		Example: `  # against a running server
  callgate keys create --server http://127.0.0.1:8080 --app my-app --key $REST_KEY --scope authOnly --name "iOS app"
  # offline, on the data dir (bootstrap)
  callgate keys create --data ./callgate-data --app my-app --scope fullAccess --name "backend"`,
		Args: adminArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !provision.ValidScope(scope) {
				if scope == "" {
					return errors.New("missing --scope: pass --scope authOnly (may only create users and auth tokens — what a client's login needs) or --scope fullAccess (the whole REST API)")
				}
				return fmt.Errorf("--scope %q: want authOnly or fullAccess", scope)
			}
			if strings.TrimSpace(name) == "" {
				name = scope + " key"
			}
			online, err := f.online(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			w := cmd.OutOrStdout()
			var key adminKey
			var appID string
			var raw any
			if online {
				cl, err := f.conn.client()
				if err != nil {
					return err
				}
				data, _, err := cl.call(ctx, http.MethodPost, "/apikeys", nil, map[string]string{"name": name, "scope": scope})
				if err != nil {
					return err
				}
				if key, err = adminDecode[adminKey](data); err != nil {
					return err
				}
				appID, raw = cl.appID, data
			} else {
				st, app, _, err := f.offline(ctx)
				if err != nil {
					return err
				}
				defer st.Close()
				secret, k, err := provision.CreateAPIKey(ctx, st, app.ID, strings.TrimSpace(name), scope, time.Now())
				if errors.Is(err, store.ErrLimitReached) {
					return fmt.Errorf("app %s already has the maximum of %d API keys\n  delete one first: `callgate keys list` then `callgate keys delete KEY_ID`", app.ID, provision.MaxAPIKeys)
				}
				if err != nil {
					return err
				}
				key = wire.KeyOf(k, secret)
				appID, raw = app.ID, key
			}
			return adminEmit(w, f.asJSON, raw, func() error {
				fmt.Fprintf(w, "Created %s API key %s (%q) for app %s:\n\n  %s\n\n", key.Scope, key.ID, key.Name, appID, key.APIKey)
				fmt.Fprintln(w, "It is shown only this once (callgate keeps only its hash): store it now.")
				return nil
			})
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&scope, "scope", "", "authOnly (create users and auth tokens only) or fullAccess (the whole REST API)")
	cmd.Flags().StringVar(&name, "name", "", "a name to recognise the key by (default: \"{scope} key\")")
	return cmd
}

func newAdminKeysListCmd() *cobra.Command {
	var f adminKeyFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the API keys of an app (never their secrets)",
		Example: `  callgate keys list --server http://127.0.0.1:8080 --app my-app --key $REST_KEY
  callgate keys list --data ./callgate-data --app my-app`,
		Args: adminArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			online, err := f.online(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var keys []adminKey
			var raw any
			if online {
				cl, err := f.conn.client()
				if err != nil {
					return err
				}
				data, _, err := cl.call(ctx, http.MethodGet, "/apikeys", nil, nil)
				if err != nil {
					return err
				}
				if keys, err = adminDecode[[]adminKey](data); err != nil {
					return err
				}
				raw = data
			} else {
				st, app, _, err := f.offline(ctx)
				if err != nil {
					return err
				}
				defer st.Close()
				ks, err := st.ListAPIKeys(ctx, app.ID)
				if err != nil {
					return err
				}
				keys = make([]adminKey, len(ks))
				for i, k := range ks {
					keys[i] = wire.KeyOf(k, "")
				}
				raw = keys
			}
			w := cmd.OutOrStdout()
			return adminEmit(w, f.asJSON, raw, func() error {
				adminPrintKeys(w, keys)
				return nil
			})
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func adminPrintKeys(w io.Writer, keys []adminKey) {
	rows := make([][]string, len(keys))
	for i, k := range keys {
		rows[i] = []string{k.ID, k.Name, k.Scope, adminTime(k.CreatedAt, "-")}
	}
	printTable(w, []string{"ID", "NAME", "SCOPE", "CREATED"}, rows)
}

func newAdminKeysDeleteCmd() *cobra.Command {
	var f adminKeyFlags
	cmd := &cobra.Command{
		Use:   "delete KEY_ID|API_KEY",
		Short: "Delete an API key (by its id, or by the key itself)",
		Long: `Deletes an API key; requests signed with it fail from then on. Name the key by
its id (from keys list) or by the secret itself.

Deleting offline while a server runs on the same database takes effect there
within a few seconds (the server caches keys briefly); through --server it is
immediate.`,
		Example: `  callgate keys delete key_3f9a0c1b2d4e --server http://127.0.0.1:8080 --app my-app --key $REST_KEY
  callgate keys delete key_3f9a0c1b2d4e --data ./callgate-data --app my-app`,
		Args: adminArgs("KEY_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := strings.TrimSpace(args[0])
			online, err := f.online(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			w := cmd.OutOrStdout()
			if online {
				cl, err := f.conn.client()
				if err != nil {
					return err
				}
				data, _, err := cl.call(ctx, http.MethodDelete, adminPath("apikeys", ref), nil, nil)
				if err != nil {
					return err
				}
				res, err := adminDecode[adminResult](data)
				if err != nil {
					return err
				}
				return adminEmit(w, f.asJSON, data, func() error {
					fmt.Fprintln(w, res.Message)
					return nil
				})
			}
			st, app, _, err := f.offline(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			var k *store.APIKey
			if credential.IsAPIKey(ref) {
				k, err = st.GetAPIKeyByHash(ctx, app.ID, credential.Hash(ref))
			} else {
				k, err = st.GetAPIKey(ctx, app.ID, ref)
			}
			if err == nil {
				err = st.DeleteAPIKey(ctx, app.ID, k.ID)
			}
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("app %s has no API key %q\n  `callgate keys list --app %s` shows its keys", app.ID, ref, app.ID)
			}
			if err != nil {
				return err
			}
			res := adminResult{Success: true, Message: "API key " + k.ID + " deleted."}
			return adminEmit(w, f.asJSON, res, func() error {
				fmt.Fprintln(w, res.Message)
				return nil
			})
		},
	}
	f.register(cmd.Flags())
	return cmd
}
