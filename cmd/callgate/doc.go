// Command callgate is the callgate server and its admin CLI in one binary
// (docs/cli.md). root.go builds the whole command tree:
//
//   - serve.go, migrate.go, storeopen.go: the server and its database.
//   - admin_apps.go, admin_settings.go, admin_keys.go, signing_keys.go,
//     admin_users.go, admin_tokens.go: the admin commands. Each writes its flow once;
//     admin_backend.go chooses where the work is done: admin_rest.go through
//     a running server's REST API (admin_client.go is the one REST client),
//     admin_db.go offline on the database. admin.go and output.go print.
//   - login.go, calltoken.go: a user's session through the Go SDK (package
//     calls), and call tokens minted with it and verified with package
//     calltoken.
//   - bench.go, bench_realtime.go: flags for internal/bench, which holds the
//     benchmarks (docs/benchmarks.md).
//
// Every configuration flag can also come from CALLGATE_* variables
// (root.go's bindEnv).
//
// Non-test code must not import internal/servertest (tests only). The
// admin commands reach a server only through adminCall and a database only
// through dbBackend, so each path has one place that speaks it.
package main
