// Package wire holds the JSON shapes of the REST API's records: the server
// writes them, and the CLI reads them (and shows store records it reads
// offline in the same shapes), so both sides use one definition.
//
// It imports store (the records it renders) and nothing else of callgate's.
package wire
