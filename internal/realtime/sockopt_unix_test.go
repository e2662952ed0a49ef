//go:build unix

package realtime_test

import "syscall"

// setReceiveBuffer sets a socket's SO_RCVBUF (a client that reads slowly).
func setReceiveBuffer(fd uintptr, n int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
