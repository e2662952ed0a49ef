package realtime

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// WebSocket frames on a connection (RFC 6455). gobwas/ws parses and checks
// headers; the connection decides when to read, so that an idle socket
// holds no goroutine and no buffer (poller_linux.go).

// errPeerClosed: the client sent a close frame; reading is over.
type errPeerClosed struct{ code ws.StatusCode }

func (e errPeerClosed) Error() string { return "peer closed: " + strconv.Itoa(int(e.code)) }

// errProtocol: the client broke the protocol or the read limit; the
// connection is closed with code, and what follows is discarded.
type errProtocol struct {
	code   ws.StatusCode
	reason string
}

func (e errProtocol) Error() string { return e.reason }

// readers lend idle connections a read buffer only while a frame is read.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// readFrame reads one frame from br and acts on it: a ping is answered, a
// data message is handled once its last fragment is in.
func (c *conn) readFrame(br *bufio.Reader) error {
	h, err := ws.ReadHeader(br)
	if errors.Is(err, ws.ErrHeaderLengthMSB) || errors.Is(err, ws.ErrHeaderLengthUnexpected) {
		// A 64-bit length with its top bit set (FuzzReadFrame found it
		// dropping the connection without a close frame).
		return errProtocol{ws.StatusProtocolError, err.Error()}
	}
	if err != nil {
		return err
	}
	state := ws.StateServerSide
	if c.fragmented {
		state |= ws.StateFragmented
	}
	if err := ws.CheckHeader(h, state); err != nil {
		return errProtocol{ws.StatusProtocolError, err.Error()}
	}
	if !h.OpCode.IsControl() && int64(len(c.msg))+h.Length > c.h.cfg.ReadLimit {
		return errProtocol{ws.StatusMessageTooBig, "message larger than " + strconv.FormatInt(c.h.cfg.ReadLimit, 10) + " bytes"}
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(br, p); err != nil {
		return err
	}
	ws.Cipher(p, h.Mask, 0)
	c.seen()
	switch h.OpCode {
	case ws.OpPing:
		return c.writeFrame(ws.OpPong, p)
	case ws.OpPong:
		return nil
	case ws.OpClose:
		code, _ := ws.ParseCloseFrameData(p)
		return errPeerClosed{code}
	}
	if !h.Fin {
		c.fragmented = true
		c.msg = append(c.msg, p...)
		return nil
	}
	if c.fragmented {
		p = append(c.msg, p...)
		c.fragmented, c.msg = false, nil
	}
	if reply := clientReply(p); reply != nil {
		c.enqueue(reply)
	}
	return nil
}

// writers hold a frame (header and payload) while it is written: one
// write call a frame, and no buffer kept by an idle connection.
var writers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeFrame sends one unfragmented, unmasked frame. Its deadline is the
// hub's sweep: a write that made no progress for WriteTimeout is aborted.
func (c *conn) writeFrame(op ws.OpCode, p []byte) error {
	bp := writers.Get().(*[]byte)
	b := append((*bp)[:0], 0x80|byte(op))
	switch n := len(p); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
	b = append(b, p...)
	c.wmu.Lock()
	c.writeStart.Store(time.Now().UnixNano())
	_, err := c.nc.Write(b)
	c.writeStart.Store(0)
	c.wmu.Unlock()
	if cap(b) <= 64<<10 { // a storm's batches reuse their buffers; an outlier goes
		*bp = b[:0]
		writers.Put(bp)
	}
	return err
}

func closeBody(code ws.StatusCode, reason string) []byte {
	if code == 0 {
		return nil
	}
	return ws.NewCloseFrameBody(code, reason)
}

var errTimeout = errors.New("realtime: read timed out")
