//go:build !linux

package realtime

import "errors"

// poller is Linux's epoll (poller_linux.go); elsewhere every connection
// has a reader goroutine of its own.
type poller struct{}

var errNotPollable = errors.New("realtime: socket cannot be polled")

func thePoller() *poller                        { return nil }
func (p *poller) add(c *conn, armed bool) error { return errNotPollable }
func (p *poller) arm(c *conn) error             { return errNotPollable }
func (p *poller) remove(c *conn)                {}
