// Package secretfile writes files that hold secrets (dev credentials, the
// CLI's saved keys): JSON, mode 0600, in a 0700 directory, replaced
// atomically. It imports nothing of callgate's.
package secretfile
