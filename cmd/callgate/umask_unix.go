//go:build unix

package main

import "syscall"

// keepFilesPrivate makes what serve creates (the SQLite database and its
// WAL, the data directory) readable by its owner only: everything callgate
// writes holds or guards secrets.
func keepFilesPrivate() { syscall.Umask(0o077) }
