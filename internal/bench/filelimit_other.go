//go:build !unix

package bench

import "math"

// raiseFileLimit: Windows has no per-process limit on open sockets like
// Unix's RLIMIT_NOFILE; memory is the bound there.
func raiseFileLimit() (uint64, error) { return math.MaxUint64, nil }
