package server

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/callgate/callgate/internal/realtime"
)

// FuzzAdminFeed: a bus payload from another node (or anything sent on the
// channel), decoded as the bus decodes it and delivered to an app's admin
// event stream. Delivery never panics and every frame is one server-sent
// event: "event: <name>\ndata: <one line of JSON>\n\n".
func FuzzAdminFeed(f *testing.F) {
	for _, s := range []string{
		`{"o":"n2","k":"presence","a":"app","u":"u1","s":"online","t":1700000000}`,
		`{"o":"n2","k":"revoke_tokens","a":"app","h":["7531000000000065a1b2c3","zz","00"],"r":"logout"}`,
		`{"o":"n2","k":"revoke_user","a":"app","u":"u1","r":"user_deleted"}`,
		`{"o":"n2","k":"revoke_before","a":"app","b":1700000000,"r":"tokens_revoked"}`,
		`{"o":"n2","k":"audit","a":"app","d":[{"action":"apikey.update","id":"evt_1"},{"action":"user.create"}]}`,
		`{"o":"n2","k":"audit","a":"app","d":{"x":1}}`,
		`{"o":"n2","k":"audit","a":"app","d":["\n",1,null]}`,
		`{"o":"n2","k":"resync"}`,
		`{"k":"presence","u":"u1"}`,
		`{"k":"keys_rotated","a":"app","r":"kid"}`,
		`not json`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		ev, err := realtime.DecodeEvent(payload)
		if err != nil {
			return
		}
		feed := newAdminFeed()
		sub, err := feed.subscribe("app")
		if err != nil {
			t.Fatal(err)
		}
		feed.deliver(ev)
		for len(sub.frames) > 0 {
			fr := <-sub.frames
			name, rest, ok := bytes.Cut(fr, []byte("\n"))
			data, ok2 := bytes.CutPrefix(rest, []byte("data: "))
			if !ok || !ok2 || !bytes.HasPrefix(name, []byte("event: ")) || !bytes.HasSuffix(data, []byte("\n\n")) {
				t.Fatalf("frame %q of %s", fr, payload)
			}
			data = bytes.TrimSuffix(data, []byte("\n\n"))
			if bytes.ContainsAny(data, "\r\n") || bytes.ContainsAny(name, "\r") || !json.Valid(data) {
				t.Fatalf("frame %q of %s: data is not one line of JSON", fr, payload)
			}
		}
	})
}
