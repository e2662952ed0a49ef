// Package provision creates tenants and their credentials: apps, API keys,
// auth-token records, the sample users and the dev app. The REST handlers,
// the offline CLI (bootstrap on a data dir) and dev mode all go through
// here, so a key or an app is made one way. It imports only store,
// credential and secretfile of callgate's.
package provision
