//go:build !unix

package main

// keepFilesPrivate: Windows has no umask; new files take the ACL of their
// directory, so keep --data in a directory only the service's account can
// read (docs/operations.md).
func keepFilesPrivate() {}
