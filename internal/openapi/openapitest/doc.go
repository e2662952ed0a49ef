// Package openapitest holds answers to callgate's OpenAPI description, for
// tests: it loads the description, finds the operation of a request (path
// templates, with enum path parameters expanded to the routes they stand
// for), and checks an answer against the operation's status, headers,
// media type and JSON Schema. Validate covers the subset of JSON Schema
// the description uses (type, properties, required, additionalProperties,
// items, enum, const, $ref, allOf, oneOf, bounds and patterns), and Lint
// refuses a description that uses more, so nothing in it looks checked
// without being so.
//
// Tests only. It imports nothing of callgate's.
package openapitest
