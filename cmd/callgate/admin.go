package main

// Shared pieces of the admin CLI: command groups, output helpers and
// offline access to the data dir / database.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/store/sqlite"
	"github.com/callgate/callgate/internal/store/sqlstore"
	"github.com/callgate/callgate/internal/wire"
)

// adminGroup is a parent command (apps, keys, …): help without arguments,
// a clear error for an unknown subcommand.
func adminGroup(use, short, long string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q for %q; run `%s --help`", args[0], cmd.CommandPath(), cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(subs...)
	return cmd
}

// adminArgs checks the positional arguments and shows the usage line when
// they are wrong.
func adminArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(args) < len(names) {
			return fmt.Errorf("missing %s\n  usage: %s", strings.Join(names[len(args):], " and "), cmd.UseLine())
		}
		return fmt.Errorf("too many arguments (%s)\n  usage: %s", strings.Join(args[len(names):], " "), cmd.UseLine())
	}
}

// adminEmit prints raw (the data of an answer) as JSON when asJSON is set,
// else calls human.
func adminEmit(w io.Writer, asJSON bool, raw any, human func() error) error {
	if asJSON {
		return printJSON(w, raw)
	}
	return human()
}

// adminFields prints label/value pairs, one per line, aligned.
func adminFields(w io.Writer, pairs ...[2]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range pairs {
		fmt.Fprintf(tw, "%s\t%s\n", p[0], p[1])
	}
	tw.Flush()
}

// adminTime renders a unix time for people: RFC 3339 in local time, or
// zero (e.g. "never", "-") for 0.
func adminTime(unix int64, zero string) string {
	if unix == 0 {
		return zero
	}
	return time.Unix(unix, 0).Local().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ---- offline (data dir / database)

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

// ---- JSON shapes of the REST API (internal/wire), as the CLI reads them

type adminUser = wire.User

type adminToken = wire.Token

type adminKey = wire.Key

// adminResult is the {success, message} answer of deletions.
type adminResult struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
	Deleted *int   `json:"deleted,omitempty"`
}
