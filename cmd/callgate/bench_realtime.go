package main

// callgate bench-realtime: flags wired to internal/bench, which starts the
// server, holds the sessions and formats the figures (docs/benchmarks.md).

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/callgate/callgate/internal/bench"
)

func newBenchRealtimeCmd() *cobra.Command {
	var o bench.RealtimeOptions
	var asJSON bool
	var serverArgs string
	cmd := &cobra.Command{
		Use:   "bench-realtime",
		Short: "Measure realtime at scale: N live WebSocket sessions, idle cost, presence fan-out, revoke→close latency",
		Long: `Starts callgate on a fresh temp data dir and opens --sessions WebSocket sessions
(each with its own auth token) spread over --users users of one app, then reports:

  - the server's RSS with every session live,
  - its CPU while idle with pings running (over --idle),
  - the time for one presence event (a new user coming online) to reach every session,
  - the time from DELETE /users/{uid}/auth_tokens/{id} to that session's close (p50/p99).

The server runs with --ws-max-per-user raised to fit sessions/users. It raises
its own open-files limit to the hard limit; 10,000 sessions need about 10,100
descriptors in each process (check ulimit -Hn).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.ServerArgs = strings.Fields(serverArgs)
			res, err := bench.RunRealtime(cmd.Context(), cmd.ErrOrStderr(), o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, res)
			}
			printFigures(out, res)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&o.Sessions, "sessions", 10000, "concurrent WebSocket sessions")
	fs.IntVar(&o.Users, "users", 100, "users the sessions belong to (sessions/users each)")
	fs.IntVar(&o.Samples, "samples", 200, "token deletions timed for revoke→close")
	fs.DurationVar(&o.Idle, "idle", 30*time.Second, "idle window for the CPU figure")
	fs.StringVar(&o.ServerBin, "server-bin", "", "callgate binary to start (default: this one)")
	fs.StringVar(&serverArgs, "server-args", "", "extra flags for the started server, space-separated (e.g. \"--pprof 127.0.0.1:6060\")")
	fs.BoolVar(&asJSON, "json", false, "print results as JSON")
	return cmd
}
