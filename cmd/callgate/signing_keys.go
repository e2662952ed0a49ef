package main

// callgate signing-keys list|rotate: the Ed25519 keys that sign an app's
// call tokens. Through a running server's REST API (/v3/signing_keys, with
// a fullAccess key) when --server or --key is given, else offline on the
// data dir / database, like `callgate keys`.

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/callgate/callgate/internal/signing"
	"github.com/callgate/callgate/internal/wire"
)

func newSigningKeysCmd() *cobra.Command {
	return adminGroup("signing-keys", "List and rotate the keys that sign an app's call tokens",
		`Manage the Ed25519 keys that sign an app's call tokens (one active key per app).

With --server or --key (or CALLGATE_SERVER / CALLGATE_KEY) the commands call the
REST API of a running server (/v3/signing_keys, with a fullAccess key). Without
them they work offline on the database — SQLite in --data or PostgreSQL with
--db. Private keys are never shown.

After a rotation new tokens carry the new key's kid; the retired key stays in
/.well-known/jwks.json, and its tokens keep verifying, until every token it
signed has expired (publishedUntil).`,
		newSigningKeysListCmd(), newSigningKeysRotateCmd())
}

// adminSigningKey is a key as GET /v3/signing_keys shows it.
type adminSigningKey = wire.SigningKey

type adminRotation struct {
	Active  adminSigningKey  `json:"active"`
	Retired *adminSigningKey `json:"retired"`
}

func newSigningKeysListCmd() *cobra.Command {
	var f adminBackendFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List an app's signing keys (kid, created, retired, published until)",
		Example: `  callgate signing-keys list --server http://127.0.0.1:8080 --app my-app --key $REST_KEY
  callgate signing-keys list --data ./callgate-data --app my-app`,
		Args: adminArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return adminDo(cmd, &f, adminBackend.ListSigningKeys, func(w io.Writer, r adminReply[[]adminSigningKey]) {
				if len(r.v) == 0 {
					fmt.Fprintf(w, "App %s has no signing key yet: the server creates one when it starts, or at the app's first call token.\n", r.app)
					return
				}
				adminPrintSigningKeys(w, r.v)
			})
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func signingKeyStatus(k adminSigningKey) string {
	switch {
	case k.Active:
		return "active"
	case k.Published:
		return "retired"
	}
	return "expired"
}

func adminPrintSigningKeys(w io.Writer, keys []adminSigningKey) {
	rows := make([][]string, len(keys))
	for i, k := range keys {
		rows[i] = []string{k.KID, signingKeyStatus(k), adminTime(k.CreatedAt, "-"), adminTime(k.RetiredAt, "-"), adminTime(k.PublishedUntil, "-")}
	}
	printTable(w, []string{"KID", "STATUS", "CREATED", "RETIRED", "PUBLISHED UNTIL"}, rows)
}

func newSigningKeysRotateCmd() *cobra.Command {
	var f adminBackendFlags
	var masterKeyFile string
	var leeway time.Duration
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Give an app a new signing key; the old one keeps verifying until its tokens expire",
		Long: `Makes a new signing key the app's active key. New call tokens carry its kid;
the retired key stays published in /.well-known/jwks.json, and the tokens it
signed keep verifying, until publishedUntil: the rotation time plus the app's
call token TTL, the verification leeway and 30 s for other nodes to notice.

Offline, on a database whose keys are encrypted, pass the server's
--master-key-file: a raw key is never put among encrypted ones. A server
running on the same database starts signing with the new key within 30 s;
through --server it is immediate.`,
		Example: `  callgate signing-keys rotate --server http://127.0.0.1:8080 --app my-app --key $REST_KEY
  callgate signing-keys rotate --data ./callgate-data --app my-app --master-key-file /etc/callgate/master.key`,
		Args: adminArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			online, err := f.online(cmd)
			if err != nil {
				return err
			}
			opts := rotateOptions{leeway: leeway}
			if online && cmd.Flags().Changed("master-key-file") {
				return fmt.Errorf("--master-key-file is for offline rotations; through --server the server uses its own")
			}
			if !online && masterKeyFile != "" {
				if opts.keyring, err = signing.LoadMasterKeyFile(masterKeyFile); err != nil {
					return err
				}
			}
			rotate := func(b adminBackend, ctx context.Context) (adminReply[adminRotation], error) {
				return b.RotateSigningKey(ctx, opts)
			}
			return adminDo(cmd, &f, rotate, func(w io.Writer, r adminReply[adminRotation]) {
				rot := r.v
				fmt.Fprintf(w, "Rotated the signing key of app %s.\n\n", r.app)
				pairs := [][2]string{{"  active key", rot.Active.KID}}
				if rot.Retired != nil {
					pairs = append(pairs, [2]string{"  retired key", rot.Retired.KID + " (its tokens verify until " + adminTime(rot.Retired.PublishedUntil, "-") + ")"})
				}
				adminFields(w, pairs...)
			})
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&masterKeyFile, "master-key-file", "", "offline: the server's master key file, when its signing keys are encrypted (env CALLGATE_MASTER_KEY_FILE)")
	cmd.Flags().DurationVar(&leeway, "call-token-leeway", signing.DefaultLeeway, "offline: the server's --call-token-leeway, for how long the retired key stays published")
	return cmd
}
