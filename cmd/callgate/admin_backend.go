package main

// The admin commands that work both through a running server and offline
// (keys, signing-keys; docs/cli.md) write their flow once, against
// adminBackend: restBackend (admin_rest.go) calls the server's REST API,
// dbBackend (admin_db.go) works on the database itself.

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/callgate/callgate/internal/signing"
)

// adminBackend does the work of an admin command for one app. Each answer
// is an adminReply: what the command prints, and what --json prints.
type adminBackend interface {
	CreateAPIKey(ctx context.Context, name, scope string) (adminReply[adminKey], error)
	ListAPIKeys(ctx context.Context) (adminReply[[]adminKey], error)
	// DeleteAPIKey deletes the key named by ref: its id or the key itself.
	DeleteAPIKey(ctx context.Context, ref string) (adminReply[adminResult], error)
	ListSigningKeys(ctx context.Context) (adminReply[[]adminSigningKey], error)
	RotateSigningKey(ctx context.Context, opts rotateOptions) (adminReply[adminRotation], error)
	ListAuditEvents(ctx context.Context, q auditQuery) (adminReply[[]adminAuditEvent], error)
	Close() error
}

// adminReply is an answer of the admin CLI about one app: v for people,
// and out for --json — the data as the server sent it (REST), or v itself
// (offline).
type adminReply[T any] struct {
	v    T
	out  any
	app  string     // the app's ID
	page *adminPage // of a REST list
}

// rotateOptions are what an offline rotation needs of the server's
// configuration; through REST the server uses its own.
type rotateOptions struct {
	keyring *signing.Keyring // the server's master key; nil when keys are stored raw
	leeway  time.Duration    // the server's --call-token-leeway
}

// adminBackendFlags are the flags of a command with both backends: the
// database (--data, --db, --durability), the server (--server, --app,
// --key) and --json.
type adminBackendFlags struct {
	store  storeFlags
	conn   adminConn
	asJSON bool
}

func (f *adminBackendFlags) register(fs *pflag.FlagSet) {
	f.store.register(fs)
	f.conn.register(fs, &f.store.data)
	fs.BoolVar(&f.asJSON, "json", false, "print JSON for scripts")
}

// online reports whether the command goes through the REST API: when a
// server or key is given (--server, --key or their environment variables).
func (f *adminBackendFlags) online(cmd *cobra.Command) (bool, error) {
	online := f.conn.server != "" || f.conn.key != ""
	if online && cmd.Flags().Changed("db") {
		return false, errors.New("--db opens the database directly; --server/--key call a running server: pass one or the other")
	}
	return online, nil
}

// backend resolves the connection (online) or opens the database and
// picks the app (offline).
func (f *adminBackendFlags) backend(cmd *cobra.Command) (adminBackend, error) {
	online, err := f.online(cmd)
	if err != nil {
		return nil, err
	}
	if online {
		c, err := f.conn.client()
		if err != nil {
			return nil, err
		}
		return restBackend{c}, nil
	}
	b, err := openDBApp(cmd.Context(), &f.store, f.conn.app)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// adminDo is the flow of a command with both backends: open the backend
// the flags choose, ask it, print the answer (show, or --json). A write
// whose audit event could not be recorded (errUnaudited) is shown, then
// fails.
func adminDo[T any](cmd *cobra.Command, f *adminBackendFlags, ask func(adminBackend, context.Context) (adminReply[T], error), show func(io.Writer, adminReply[T])) error {
	b, err := f.backend(cmd)
	if err != nil {
		return err
	}
	defer b.Close()
	r, err := ask(b, cmd.Context())
	if errors.Is(err, errUnaudited) {
		if perr := adminPrint(cmd, f.asJSON, r, show); perr != nil {
			return perr
		}
		return err
	}
	if err != nil {
		return err
	}
	return adminPrint(cmd, f.asJSON, r, show)
}
