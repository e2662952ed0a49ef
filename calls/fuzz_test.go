package calls

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"testing"
	"unicode/utf8"
)

// Fuzz targets of the SDK's decoding of what a server (or something that
// is not one) answers. docs/fuzzing.md says how to run them.

// answerOuts are the types the SDK decodes an answer's data into.
var answerOuts = []func() any{
	func() any { return nil },
	func() any {
		return &struct {
			AuthToken string `json:"authToken"`
		}{}
	},
	func() any { return &User{} },
	func() any { return &[]Session{} },
	func() any {
		return &struct {
			Token string `json:"token"`
		}{}
	},
	func() any {
		return &struct {
			Revoked *int `json:"revoked"`
		}{}
	},
}

// FuzzDecodeAnswer: whatever the status and body, decodeAnswer never
// panics, and every failure is an *Error with a code and a description
// (valid UTF-8); it succeeds only on a 2xx JSON envelope with data. An
// error envelope as the server writes it comes back with the server's
// code and message, and a user as the server writes it with its fields.
func FuzzDecodeAnswer(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"data":{"uid":"u1","name":"N","metadata":{"a":[1]},"lastActiveAt":5,"authToken":"t"}}`},
		{200, `{"data":[{"id":"tok_1","current":true,"platform":"go"}]}`},
		{200, `{"data":{"revoked":2}}`}, {200, `{"data":{"token":"a.b.c"}}`},
		{401, `{"error":{"code":"AUTH_ERR_AUTH_TOKEN_NOT_FOUND","message":"The auth token is unknown."}}`},
		{503, `{"error":{"code":"ERR_SERVICE_UNAVAILABLE"}}`}, {200, `{"error":{"code":"ERR_INTERNAL"}}`},
		{500, `{"oops":true}`}, {200, `{"data":null}`}, {200, `{"data":"x"}`}, {200, `[1]`}, {200, ``},
		{502, "<html>Bad Gateway</html>"}, {200, `{"error":"x","data":{}}`}, {200, "{\"data\":{\"uid\":\"\xff\"}}"},
		{302, `{"data":{"uid":"u"}}`}, {200, `{"error":{"code":5}}`}, {200, `{"data":{"uid":"u"}} trailing`},
	} {
		for i := range answerOuts {
			f.Add(s.status, []byte(s.body), uint8(i), "ERR_X", "a message", "u1")
		}
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, which uint8, code, message, uid string) {
		prefix := func() string { return fmt.Sprintf("unexpected answer from host to GET /x (HTTP %d", status) }
		out := answerOuts[int(which)%len(answerOuts)]()
		e := decodeAnswer(status, body, out, prefix)
		if e == nil {
			var env struct {
				Data json.RawMessage `json:"data"`
			}
			if status < 200 || status > 299 || json.Unmarshal(body, &env) != nil || len(env.Data) == 0 || string(env.Data) == "null" {
				t.Fatalf("decodeAnswer(%d, %q) succeeded", status, body)
			}
		} else {
			checkError(t, e, fmt.Sprintf("decodeAnswer(%d, %q)", status, body))
			if !json.Valid(body) && e.Code != ErrNetwork {
				t.Fatalf("decodeAnswer(%d, %q) = %v, not %s", status, body, e, ErrNetwork)
			}
		}

		// What the server writes comes back as written.
		b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": message, "details": map[string]any{}}})
		if code != "" && utf8.ValidString(code) && utf8.ValidString(message) {
			want := message
			if want == "" {
				want = fmt.Sprintf("The server answered %s (HTTP %d).", code, status)
			}
			if e := decodeAnswer(status, b, nil, prefix); e == nil || e.Code != code || e.Description != want {
				t.Fatalf("%s read as %#v", b, e)
			}
		}
		u := User{UID: uid, Name: message, Status: "online", LastActiveAt: int64(status), Metadata: map[string]any{"k": code}}
		b, _ = json.Marshal(map[string]any{"data": u})
		var got User
		if e := decodeAnswer(200, b, &got, prefix); e != nil {
			t.Fatalf("%s: %v", b, e)
		}
		if utf8.ValidString(uid) && utf8.ValidString(message) && utf8.ValidString(code) && !reflect.DeepEqual(got, u) {
			t.Fatalf("%s read as %+v", b, got)
		}
	})
}

func checkError(t *testing.T, e *Error, what string) {
	t.Helper()
	if e.Code == "" || e.Description == "" || !utf8.ValidString(e.Code) || !utf8.ValidString(e.Description) {
		t.Fatalf("%s = %#v: an error without a code or a description", what, e)
	}
}

// FuzzRealtimeMessage: a message on the realtime connection is ignored or
// understood, never a panic; a presence always names a user; what the
// server writes (connected, presence, session_revoked) is read back as
// written. The body of a refused upgrade is read as the server's "token
// not found" only when it says so.
func FuzzRealtimeMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"connected","uid":"u1"}`, `{"type":"presence","uid":"u2","status":"online","lastActiveAt":1700000000}`,
		`{"type":"presence","status":"offline"}`, `{"type":"session_revoked","reason":"logout"}`, `{"type":"pong"}`,
		`{"type":"presence","uid":5}`, `{"TYPE":"presence","UID":"x"}`, `[]`, `null`, ``, "{\"type\":\"presence\",\"uid\":\"\xff\"}",
		`{"error":{"code":"AUTH_ERR_AUTH_TOKEN_NOT_FOUND"}}`, `{"error":{"Code":"AUTH_ERR_AUTH_TOKEN_NOT_FOUND"}}{`,
		`{"error":{"code":"\u0041UTH_ERR_AUTH_TOKEN_NOT_FOUND"}}`, `{"error":{"code":"auth_err_auth_token_not_found"}}`,
		`{"type":"presence_batch","events":[{"uid":"u2","status":"online","lastActiveAt":1},{"status":"offline"},{"uid":"u3","status":"offline"}]}`,
		`{"type":"presence_batch","events":[]}`, `{"type":"presence_batch","events":{}}`,
	} {
		f.Add([]byte(s), "u1", "online", int64(1700000000), "logout")
	}
	f.Fuzz(func(t *testing.T, data []byte, uid, status string, lastActive int64, reason string) {
		ev := decodeRT(data)
		switch ev.kind {
		case rtMsgIgnored, rtMsgConnected, rtMsgRevoked:
			if ev.user != nil {
				t.Fatalf("decodeRT(%q) = %+v", data, ev)
			}
		case rtMsgPresence:
			if ev.user == nil || ev.user.UID == "" {
				t.Fatalf("decodeRT(%q): a presence of nobody", data)
			}
		case rtMsgPresenceBatch:
			if len(ev.users) == 0 {
				t.Fatalf("decodeRT(%q): an empty batch", data)
			}
			for _, u := range ev.users {
				if u == nil || u.UID == "" {
					t.Fatalf("decodeRT(%q): a presence of nobody in a batch", data)
				}
			}
		default:
			t.Fatalf("decodeRT(%q) = kind %d", data, ev.kind)
		}
		if ev.kind != rtMsgIgnored && !json.Valid(data) {
			t.Fatalf("decodeRT(%q) = %+v from what is not JSON", data, ev)
		}
		dead := rtDeadToken(&http.Response{Body: io.NopCloser(bytes.NewReader(data))})
		// Of JSON's escapes only \u can spell the code's letters.
		if dead && !bytes.Contains(data, []byte("AUTH_ERR_AUTH_TOKEN_NOT_FOUND")) && !bytes.Contains(data, []byte(`\u`)) {
			t.Fatalf("rtDeadToken(%q) = true", data)
		}

		if !utf8.ValidString(uid) || !utf8.ValidString(status) || !utf8.ValidString(reason) {
			return // JSON would carry U+FFFD, not these bytes
		}
		b, _ := json.Marshal(map[string]any{"type": "presence", "uid": uid, "status": status, "lastActiveAt": lastActive})
		ev = decodeRT(b)
		if uid == "" && ev.kind != rtMsgIgnored || uid != "" && (ev.kind != rtMsgPresence ||
			ev.user.UID != uid || ev.user.Status != status || ev.user.LastActiveAt != lastActive) {
			t.Fatalf("%s read as %+v", b, ev)
		}
		e := map[string]any{"uid": uid, "status": status, "lastActiveAt": lastActive}
		b, _ = json.Marshal(map[string]any{"type": "presence_batch", "events": []any{e, map[string]any{"uid": "other"}, e}})
		ev = decodeRT(b)
		if ev.kind != rtMsgPresenceBatch || len(ev.users) != 3 && uid != "" || len(ev.users) != 1 && uid == "" {
			t.Fatalf("%s read as %+v", b, ev)
		}
		if uid != "" && (ev.users[0].UID != uid || ev.users[0].Status != status || ev.users[0].LastActiveAt != lastActive || ev.users[1].UID != "other" || ev.users[2].UID != uid || ev.users[2].LastActiveAt != lastActive) {
			t.Fatalf("%s read as %+v", b, ev)
		}
		b, _ = json.Marshal(map[string]any{"type": "session_revoked", "reason": reason})
		if ev := decodeRT(b); ev.kind != rtMsgRevoked || ev.reason != reason {
			t.Fatalf("%s read as %+v", b, ev)
		}
		b, _ = json.Marshal(map[string]any{"type": "connected", "uid": uid})
		if ev := decodeRT(b); ev.kind != rtMsgConnected {
			t.Fatalf("%s read as %+v", b, ev)
		}
	})
}
