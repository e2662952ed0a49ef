// Package importrules holds no code: its test enforces, for every package
// of the module, which of callgate's packages it may import — what each
// package's doc.go promises. A new package must add its line to the table.
package importrules
