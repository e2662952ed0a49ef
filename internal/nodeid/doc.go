// Package nodeid names a server process among the nodes of one database:
// presence rows and bus events carry it, so a node can tell its own events
// and the nodes that died. It imports nothing of callgate's.
package nodeid
