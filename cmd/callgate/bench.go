package main

// callgate bench and bench-baseline: flags wired to internal/bench, which
// starts the servers, runs the rounds and formats the figures
// (docs/benchmarks.md).

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/callgate/callgate/internal/bench"
)

func newBenchCmd() *cobra.Command {
	o := bench.Options{Redact: redactDSN}
	var asJSON, printWrk bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure callgate's request rates against a bare net/http baseline",
		Long: `Starts callgate (on a fresh temp data dir, or --db postgres://…, or uses --target),
creates the users and tokens it needs, and runs the scenarios with C keep-alive
connections, closed loop, like wrk -c C:

  baseline  GET on a bare net/http handler answering a body of the size of GET /me
  login     POST /v3/users/{uid}/auth_tokens with the auth key (a durable insert)
  session   PUT /v3.0/me
  me        GET /v3/me
  mixed     10% login, 20% session, 70% me
  preflight OPTIONS /v3.0/me: a browser's CORS preflight (no storage)
  me-cors   GET /v3/me with an Origin header (the app's corsOrigins checked)

For each it prints req/s, latency percentiles, errors, the server's peak RSS and
the ratio to the baseline measured in the same run. --print-wrk prints wrk
commands that reproduce each figure independently.

--soak DURATION runs a soak test instead: the mixed load on --connections
connections plus --soak-churn WebSocket clients that connect, stay 0.2–2 s
and leave (cleanly or by dropping the connection, taking turns), for
DURATION (at least 1m; 10m is a good soak). Every --soak-interval it prints
req/s, p99, errors, WebSocket connects and the server's RSS, goroutines and
open descriptors; at the end a table, and it exits non-zero if anything kept
growing:

` + indent(bench.SoakRule, "  "),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Soak > 0 {
				return runSoak(cmd, o, asJSON)
			}
			rep, err := bench.Run(cmd.Context(), cmd.ErrOrStderr(), o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, rep.Results)
			}
			printFigures(out, rep)
			if printWrk {
				rep.WriteWrk(out)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Target, "target", "", "benchmark a running server at this URL (needs --app, --auth-key, --rest-key)")
	fs.StringVar(&o.App, "app", "", "app id (with --target)")
	fs.StringVar(&o.AuthKey, "auth-key", "", "authOnly or fullAccess key for logins (with --target)")
	fs.StringVar(&o.RESTKey, "rest-key", "", "fullAccess key to create bench users (with --target)")
	fs.IntVar(&o.PID, "pid", 0, "server process id to sample RSS from (with --target)")
	fs.StringVar(&o.DB, "db", "", "run the started server on this PostgreSQL URL instead of SQLite")
	fs.StringVar(&o.ServerBin, "server-bin", "", "callgate binary to start (default: this one)")
	fs.StringVar(&o.ServerArgs, "server-args", "", "extra flags for the started server, space-separated (e.g. \"--durability full\")")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured time per scenario")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unmeasured warm-up per scenario (first round; later rounds 0.5 s)")
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds the scenarios take turns over (the duration is split between them)")
	fs.IntVar(&o.Connections, "connections", 64, "concurrent keep-alive connections")
	fs.IntVar(&o.Users, "users", 1000, "bench users to create (each gets a token)")
	fs.StringVar(&o.Scenarios, "scenarios", strings.Join(bench.Scenarios, ","), "scenarios to run, comma-separated")
	fs.DurationVar(&o.Soak, "soak", 0, "run a soak test of this length instead of the scenarios (e.g. 10m); fails if RSS, goroutines or descriptors keep growing")
	fs.DurationVar(&o.SoakInterval, "soak-interval", time.Minute, "with --soak: print a line of figures this often")
	fs.IntVar(&o.SoakChurn, "soak-churn", 32, "with --soak: WebSocket clients connecting and disconnecting continuously")
	fs.BoolVar(&asJSON, "json", false, "print results as JSON")
	fs.BoolVar(&printWrk, "print-wrk", false, "also print wrk commands reproducing each scenario")
	return cmd
}

// runSoak runs bench --soak and prints its table (or JSON); a soak that
// failed its rule is an error after the figures.
func runSoak(cmd *cobra.Command, o bench.Options, asJSON bool) error {
	rep, err := bench.RunSoak(cmd.Context(), cmd.ErrOrStderr(), o)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if asJSON {
		if err := printJSON(out, rep); err != nil {
			return err
		}
	} else {
		printFigures(out, rep)
		fmt.Fprint(out, rep.Verdict())
	}
	if len(rep.Failures) > 0 {
		return fmt.Errorf("soak failed:\n  %s", strings.Join(rep.Failures, "\n  "))
	}
	return nil
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// printFigures prints a benchmark's heading and table of figures.
func printFigures(w io.Writer, f interface {
	Heading() string
	Table() (header []string, rows [][]string)
}) {
	fmt.Fprint(w, f.Heading())
	header, rows := f.Table()
	printTable(w, header, rows)
}

// newBenchBaselineCmd is bench's baseline server, started by bench as its
// own process like callgate is.
func newBenchBaselineCmd() *cobra.Command {
	var addr string
	var size int
	cmd := &cobra.Command{
		Use:    "bench-baseline",
		Short:  "Serve a bare net/http JSON handler (bench's baseline)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.ServeBaseline(cmd.Context(), addr, size)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8090", "listen address")
	cmd.Flags().IntVar(&size, "size", 200, "response body size in bytes")
	return cmd
}
