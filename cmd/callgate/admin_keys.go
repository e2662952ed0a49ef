package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/callgate/callgate/internal/provision"
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

func newAdminKeysCreateCmd() *cobra.Command {
	var f adminBackendFlags
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
			create := func(b adminBackend, ctx context.Context) (adminReply[adminKey], error) {
				return b.CreateAPIKey(ctx, name, scope)
			}
			return adminDo(cmd, &f, create, func(w io.Writer, r adminReply[adminKey]) {
				key := r.v
				fmt.Fprintf(w, "Created %s API key %s (%q) for app %s:\n\n  %s\n\n", key.Scope, key.ID, key.Name, r.app, key.APIKey)
				fmt.Fprintln(w, "It is shown only this once (callgate keeps only its hash): store it now.")
			})
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&scope, "scope", "", "authOnly (create users and auth tokens only) or fullAccess (the whole REST API)")
	cmd.Flags().StringVar(&name, "name", "", "a name to recognise the key by (default: \"{scope} key\")")
	return cmd
}

func newAdminKeysListCmd() *cobra.Command {
	var f adminBackendFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the API keys of an app (never their secrets)",
		Example: `  callgate keys list --server http://127.0.0.1:8080 --app my-app --key $REST_KEY
  callgate keys list --data ./callgate-data --app my-app`,
		Args: adminArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return adminDo(cmd, &f, adminBackend.ListAPIKeys, func(w io.Writer, r adminReply[[]adminKey]) {
				adminPrintKeys(w, r.v)
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
	var f adminBackendFlags
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
			del := func(b adminBackend, ctx context.Context) (adminReply[adminResult], error) {
				return b.DeleteAPIKey(ctx, ref)
			}
			return adminDo(cmd, &f, del, adminShowMessage)
		},
	}
	f.register(cmd.Flags())
	return cmd
}
