package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newRootCmd builds the whole command tree, in one place (docs/cli.md
// describes each command).
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "callgate",
		Short:         "Self-hostable identity and session service for voice/video calling apps",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return bindEnv(cmd.Flags())
		},
	}
	root.AddCommand(
		// The server and its database.
		newServeCmd(),
		newMigrateCmd(),
		// Admin: offline on the database, or through a server's REST API.
		newAppsCmd(),
		newKeysCmd(),
		newSigningKeysCmd(),
		newUsersCmd(),
		newTokensCmd(),
		newAuditCmd(),
		// A user's session through the Go SDK, and call tokens.
		newLoginCmd(),
		newWhoamiCmd(),
		newLogoutCmd(),
		newCallTokenCmd(),
		// Benchmarks (docs/benchmarks.md).
		newBenchCmd(),
		newBenchBaselineCmd(),
		newBenchRealtimeCmd(),
	)
	return root
}

// envFlags are the configuration flags that may come from the environment:
// every serve flag, and where to find the server, app and credentials. Per
// call values (--name, --scope, --page, --json…) are left alone, so a stray
// CALLGATE_NAME in a shell cannot steer a command.
var envFlags = map[string]bool{
	"addr": true, "data": true, "db": true, "durability": true, "dev": true, "dev-allow-remote": true,
	"log-format": true, "log-level": true, "rate-limit": true, "rate-limit-tokens": true,
	"rate-limit-failed-auth": true, "presence-grace": true, "node-lease": true, "ws-max-per-user": true,
	"pprof": true, "public-url": true, "master-key-file": true, "call-token-leeway": true, "audit-retention": true,
	"trusted-proxies": true, "tls-cert": true, "tls-key": true, "shutdown-drain": true,
	"server": true, "app": true, "key": true, "host": true, "region": true, "sessions": true,
}

// bindEnv fills every configuration flag (envFlags) not given on the command
// line from CALLGATE_ + its name in upper case with - as _ (--addr →
// CALLGATE_ADDR). A flag on the command line wins.
func bindEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil || !envFlags[f.Name] {
			return
		}
		name := "CALLGATE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("environment %s=%q: %w", name, v, serr)
			}
		}
	})
	return err
}
