package sqlite

import (
	"io/fs"
	"time"
)

// SetCheckpointing sets the checkpointer's tick and WAL rewind point for a
// test and returns the function that restores them.
func SetCheckpointing(every time.Duration, rewind int) (restore func()) {
	oldEvery, oldRewind := checkpointEvery, rewindFrames
	checkpointEvery, rewindFrames = every, rewind
	return func() { checkpointEvery, rewindFrames = oldEvery, oldRewind }
}

// SetMigrations makes Open read its migrations from fsys (a directory
// "migrations" in it) for a test, and returns the function that restores
// the embedded ones.
func SetMigrations(fsys fs.FS) (restore func()) {
	old := migrations
	migrations = fsys
	return func() { migrations = old }
}
