// Package pgtest gives tests a private PostgreSQL schema on the server named
// by $CALLGATE_TEST_POSTGRES, or skips them, saying so.
//
// It imports nothing of callgate's, so any package's tests (and test helpers
// such as servertest) may use it; the server and the CLI must not.
package pgtest
