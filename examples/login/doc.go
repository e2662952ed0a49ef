// Command login runs the seed page's flow with the Go SDK against a callgate
// server: initialise, check for a logged-in user, log in if there is none,
// print the user, log out.
//
// Start a dev server in the repository root, then run the example there:
//
//	go run ./cmd/callgate serve --dev        # writes ./callgate-data/dev-credentials.json
//	go run ./examples/login                  # reads it
//
// Flags (-app, -region, -host, -key) override the file; -data names another
// data directory.
//
// It imports only the public SDK, calls: an example must not reach into
// internal packages.
package main
