// Command gen writes docs/errors.md from the error catalogue.
//
// It imports apierr only.
package main
