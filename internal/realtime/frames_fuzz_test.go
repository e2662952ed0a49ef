package realtime

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzReadFrame: any bytes a client sends are read as frames until they end
// or break the protocol. Reading never panics, never holds more of a
// message than the read limit, and ends only in the documented ways: the
// bytes ran out, a protocol error (1002, or 1009 over the limit), or the
// client's close. Every ping is answered with a pong of its payload.
func FuzzReadFrame(f *testing.F) {
	mask := []byte{1, 2, 3, 4}
	frame := func(first byte, payload string) []byte {
		b := []byte{first, 0x80 | byte(len(payload))}
		b = append(b, mask...)
		for i := range len(payload) {
			b = append(b, payload[i]^mask[i%4])
		}
		return b
	}
	f.Add(frame(0x81, `{"type":"ping"}`))
	f.Add(append(frame(0x01, `{"type":`), frame(0x80, `"ping"}`)...))
	f.Add(append(frame(0x01, `{"ty`), append(frame(0x89, "hi"), frame(0x80, `pe":"ping"}`)...)...))
	f.Add(frame(0x88, "\x03\xe8bye"))
	f.Add(frame(0x81, "")[:3])
	f.Add([]byte{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	f.Add([]byte{0x81, 0xfe, 0x10, 0x00, 1, 2, 3, 4})
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'})
	f.Fuzz(func(t *testing.T, data []byte) {
		out := &sink{}
		h := &Hub{cfg: Config{ReadLimit: 64, QueueSize: 4, WriteTimeout: time.Second}}
		c := &conn{h: h, nc: out, kick: make(chan struct{}, 1)}
		c.closeRq = &closeReq{} // answers are dropped: no writer starts
		br := bufio.NewReader(bytes.NewReader(data))
		var err error
		for frames := 0; ; frames++ {
			if frames > len(data) {
				t.Fatalf("%d frames read from %d bytes", frames, len(data))
			}
			if err = c.readFrame(br); err != nil {
				break
			}
			if len(c.msg) > 64 {
				t.Fatalf("%d bytes of a message held, over the limit of 64", len(c.msg))
			}
		}
		var pe errProtocol
		var pc errPeerClosed
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		case errors.As(err, &pe):
			if pe.code != 1002 && pe.code != 1009 {
				t.Fatalf("protocol error with code %d", pe.code)
			}
		case errors.As(err, &pc):
		default:
			t.Fatalf("reading ended with %v", err)
		}
		// The pongs written are well-formed server frames: FIN, opcode 0xA,
		// unmasked, at most 125 bytes.
		w := out.buf.Bytes()
		for len(w) > 0 {
			if len(w) < 2 || w[0] != 0x8A || w[1] > 125 || len(w) < 2+int(w[1]) {
				t.Fatalf("bad pong frame written: % x", w)
			}
			w = w[2+int(w[1]):]
		}
	})
}

// sink is a socket that takes every write.
type sink struct {
	net.Conn // nil: only Write is called
	buf      bytes.Buffer
}

func (s *sink) Write(p []byte) (int, error) { return s.buf.Write(p) }
