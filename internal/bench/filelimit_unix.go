//go:build unix

package bench

import "syscall"

// raiseFileLimit raises this process's open-files limit to its hard limit
// and returns the limit in effect. A system that refuses the raise keeps
// its soft limit, which is returned: the callers compare it with what the
// run needs and say what to do (macOS refuses a hard limit of "unlimited",
// and Go's runtime has already raised the soft limit there at start).
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = raised.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			lim = raised
		}
	}
	return uint64(lim.Cur), nil // int64 on the BSDs
}
