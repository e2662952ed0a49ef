package sqlite

import "time"

// SetCheckpointing sets the checkpointer's tick and WAL rewind point for a
// test and returns the function that restores them.
func SetCheckpointing(every time.Duration, rewind int) (restore func()) {
	oldEvery, oldRewind := checkpointEvery, rewindFrames
	checkpointEvery, rewindFrames = every, rewind
	return func() { checkpointEvery, rewindFrames = oldEvery, oldRewind }
}
