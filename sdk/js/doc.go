// Package sdkjs embeds the JavaScript SDK (calls.js and calls.d.ts, in this
// directory) into the binary and serves it: the server mounts Handler at
// /sdk/. The JavaScript is the source; nothing is built. The server
// imports it; it imports nothing of callgate's.
package sdkjs
