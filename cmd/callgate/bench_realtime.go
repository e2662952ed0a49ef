package main

// callgate bench-realtime: flags wired to internal/bench, which starts the
// servers and the client processes, and formats the figures
// (docs/benchmarks.md).

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/callgate/callgate/internal/bench"
)

func newBenchRealtimeCmd() *cobra.Command {
	o := bench.RealtimeOptions{Redact: redactDSN}
	var asJSON bool
	var serverArgs string
	cmd := &cobra.Command{
		Use:   "bench-realtime",
		Short: "Measure realtime at scale: N live WebSocket sessions on one or many nodes, idle cost, presence fan-out, revoke→close, a node's crash",
		Long: `Starts callgate — one node on a fresh SQLite data dir, or --nodes N on the
PostgreSQL database of --db, each on its own port — and opens --sessions
WebSocket sessions (each with its own auth token) over --users users of one
app, from --clients client processes (this binary again). A user's sessions
all go to one node, users dealt round robin. Then it reports:

  - the time to connect every session,
  - each node's RSS with every session live, and per session,
  - the nodes' CPU while idle with pings running (over --idle),
  - the time for one presence event (a new user coming online on node 1) to
    reach every session on every node (last, p50, p99),
  - the time from DELETE /users/{uid}/auth_tokens/{id} on node 1 to that
    session's close on another node (p50/p99; the same node with one),
  - with --kill-node, after kill -9 of the last node: when every session on
    the other nodes has heard all its users go offline, and when node 1's
    REST reads them offline (within --node-lease, given to the nodes).

With --db, an app named bench-realtime is created in that database for each
run: use a scratch database. The servers run with --ws-max-per-user raised to
fit sessions/users. Each process raises its open-files limit to the hard
limit: a node and a client process each need about 100 descriptors more than
the sessions they hold (check ulimit -Hn; add --nodes or --clients).

With --floor, a bare coder/websocket server (accept, send one message, read
until the client goes) holds the sessions instead of callgate, measured the
same way: the floor of the one-goroutine-per-socket I/O model that callgate's
RSS and connect time are read against. Its presence fan-out writes one
prepared message to every socket when the watched user dials: the floor of
that figure on this machine.`,
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
	fs.StringVar(&o.Presence, "presence", "", "the presence query parameter of every session: all (the server's default), none, or roles:r1,r2 (every user then has role r1)")
	fs.IntVar(&o.Nodes, "nodes", 1, "serve processes sharing the sessions (more than 1 needs --db)")
	fs.StringVar(&o.DB, "db", "", "run the nodes on this PostgreSQL URL (a scratch database) instead of SQLite")
	fs.DurationVar(&o.NodeLease, "node-lease", 5*time.Second, "the nodes' --node-lease (with --db)")
	fs.IntVar(&o.Clients, "clients", 1, "client processes holding the sessions (one can hold about its open-files limit)")
	fs.BoolVar(&o.KillNode, "kill-node", false, "finally kill -9 the last node and time its users going offline on the others (needs --nodes 2+)")
	fs.BoolVar(&o.Floor, "floor", false, "measure the floor instead: a bare coder/websocket server (accept, one message, read loop) holding the sessions; connect time, RSS, idle CPU and the fan-out of one message to every socket")
	fs.StringVar(&o.ServerBin, "server-bin", "", "callgate binary to start (default: this one)")
	fs.StringVar(&serverArgs, "server-args", "", "extra flags for the started servers, space-separated (e.g. \"--pprof 127.0.0.1:6060\")")
	fs.BoolVar(&asJSON, "json", false, "print results as JSON")
	var floorAddr string
	floor := &cobra.Command{
		Use:    "floor",
		Short:  "Serve bench-realtime --floor's bare WebSocket server (started by bench-realtime)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.ServeFloor(cmd.Context(), floorAddr)
		},
	}
	floor.Flags().StringVar(&floorAddr, "addr", "127.0.0.1:0", "listen address")
	cmd.AddCommand(floor)
	cmd.AddCommand(&cobra.Command{
		Use:    "client",
		Short:  "Hold a share of bench-realtime's sessions (started by bench-realtime)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.RunRealtimeClient(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
		},
	})
	return cmd
}
