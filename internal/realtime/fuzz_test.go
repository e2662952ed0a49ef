package realtime

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Fuzz targets of what reaches the hub from outside: a client's WebSocket
// messages and other nodes' bus events (PostgreSQL NOTIFY payloads, which
// any client of the database can send). docs/fuzzing.md says how to run
// them.

// FuzzClientMessage: the answer to one client message is nothing or a
// pong, and a pong exactly when the message is a JSON object whose type
// (matched without case, as encoding/json matches field names; the last
// one wins) is the string "ping".
func FuzzClientMessage(f *testing.F) {
	for _, s := range []string{`{"type":"ping"}`, `{"Type":"ping","x":[1,{}]}`, `{"type":"pong"}`, `{"type":"ping","TYPE":"x"}`,
		`{"type":"x","tYpE":"ping"}`, `{"type":1}`, `{"type":null}`, `{"type":"ping","type":5}`, `{"\u0074ype":"ping"}`,
		`{"type":"ping"} `, `{"type":"ping"}{}`, `["ping"]`, `"ping"`, `ping`, ``, "{\"type\":\"ping\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		reply := clientReply(data)
		if reply != nil && string(reply) != `{"type":"pong"}` {
			t.Fatalf("clientReply(%q) = %q", data, reply)
		}
		if want := isPing(data); (reply != nil) != want {
			t.Fatalf("clientReply(%q) = %q; a ping: %v", data, reply, want)
		}
	})
}

// isPing decodes data token by token: one JSON object, every member whose
// name folds to "type" a string or null, the last string "ping".
func isPing(data []byte) bool {
	if !json.Valid(data) {
		return false
	}
	d := json.NewDecoder(bytes.NewReader(data))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	typ := ""
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return false
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return false
		}
		if !strings.EqualFold(k.(string), "type") {
			continue
		}
		switch {
		case string(v) == "null":
		case v[0] == '"':
			json.Unmarshal(v, &typ)
		default:
			return false // encoding/json reports the mismatch
		}
	}
	return typ == "ping"
}

// FuzzBusEvent: a NOTIFY payload decodes to an Event or an error, never a
// panic; an Event re-encodes (as Publish does) to itself; and a hub applies
// any decoded event without panicking, passing it on to its watchers
// unless it is the hub's own.
func FuzzBusEvent(f *testing.F) {
	for _, s := range []string{
		`{"o":"n2","k":"revoke_tokens","a":"app","h":["7531000000000065a1b2c3","zz"],"r":"logout"}`,
		`{"o":"n2","k":"revoke_user","a":"app","u":"u1","r":"user_deleted"}`,
		`{"o":"n2","k":"user_changed","a":"app","u":"u1"}`,
		`{"o":"n2","k":"presence","a":"app","u":"u1","s":"online","t":1700000000}`,
		`{"o":"n2","k":"keys_rotated","a":"app","r":"kid"}`,
		`{"o":"n2","k":"revoke_before","a":"app","b":1700000000,"r":"tokens_revoked"}`,
		`{"o":"n2","k":"app_changed","a":"app"}`,
		`{"o":"n2","k":"audit","a":"app","d":[ {"action" : "user.create"} ]}`,
		`{"o":"n2","k":"audit","a":"app","d":null}`,
		`{"o":"n2","k":"resync"}`,
		`{"o":"self","k":"revoke_user","a":"app","u":"u1"}`,
		`{"k":"presence","t":1e3}`, `{"h":"x"}`, `{"b":-1}`, `[]`, `null`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		ev, err := DecodeEvent(payload)
		if err != nil {
			return
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("%s decoded to %+v, which does not encode: %v", payload, ev, err)
		}
		again, err := DecodeEvent(string(b))
		if err != nil {
			t.Fatalf("%s re-encoded as %s, which does not decode: %v", payload, b, err)
		}
		if !reflect.DeepEqual(compactData(again), compactData(ev)) {
			t.Fatalf("%s decoded to %+v, re-encoded as %s, decoded to %+v", payload, ev, b, again)
		}
		h := New(nil, LocalBus{}, Config{Node: "self"})
		var heard []Event
		h.Watch(func(e Event) { heard = append(heard, e) })
		h.applyRemote(ev)
		if own := ev.Origin == "self"; own && len(heard) != 0 || !own && len(heard) != 1 {
			t.Fatalf("%s: the watchers heard %d events", payload, len(heard))
		}
	})
}

// compactData is ev as encoding leaves it: raw Data compacted with <, >,
// &, U+2028 and U+2029 escaped (json.Marshal HTML-escapes a RawMessage:
// {"":"&"} goes out as {"":"\u0026"}, the same JSON value), empty lists
// and Data absent (omitempty).
func compactData(ev Event) Event {
	if len(ev.Hashes) == 0 {
		ev.Hashes = nil
	}
	if len(ev.Data) == 0 {
		ev.Data = nil
	} else {
		var b, esc bytes.Buffer
		if json.Compact(&b, ev.Data) == nil {
			json.HTMLEscape(&esc, b.Bytes())
			ev.Data = esc.Bytes()
		}
	}
	return ev
}
