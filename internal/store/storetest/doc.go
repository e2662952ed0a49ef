// Package storetest is the conformance suite every store.Store backend must
// pass, in the manner of dex's storage/conformance: a backend's test calls
// Run with a function that opens a fresh, empty, migrated store, and the
// suite exercises every method of the interface through it. storetest.go
// holds Run, its group table and the shared fixtures; each group's tests
// are in a file named for what they exercise. Beside the suite,
// RevokeTiming is a measurement the backends run on demand.
//
// It imports store, migrate (for the Migrator hook) and credential (to make
// token keys as the server does), and never a backend or sqlstore: the
// backends' tests import it.
package storetest
