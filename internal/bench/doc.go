// Package bench is callgate's benchmark harness, behind `callgate bench`
// (and its --soak) and `callgate bench-realtime` (docs/benchmarks.md): it
// starts the servers to measure as their own processes, drives them with
// its own load generator (loadgen.go) or WebSocket sessions, and computes
// and formats the figures.
//
// One job per file: run.go, soak.go and realtime.go run the benchmarks, proc.go
// and procstat.go start and watch processes (cmd/callgate's crash tests
// use FreeAddr and WaitReady too), setup.go, scenario.go and baseline.go
// serve run.go, report.go formats.
//
// Options mirror the CLI's flags and errors name them; the CLI only wires
// flags and prints (as a table or JSON).
//
// It must not import the server's packages (internal/server,
// internal/realtime, internal/store…) or internal/servertest: the server
// is measured as deployed, over HTTP and WebSocket as a client sees it,
// never in the benchmark's own process. internal/provision is imported only
// to read the dev credentials the started server writes.
package bench
