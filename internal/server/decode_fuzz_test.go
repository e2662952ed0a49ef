package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"

	"github.com/callgate/callgate/internal/apierr"
)

// bodyTypes are the request types the handlers decode into.
var bodyTypes = []func() any{
	func() any { return &userReq{} },
	func() any { return &keyReq{} },
	func() any { return &tokenReq{} },
	func() any { return &appReq{} },
	func() any { return &revokeReq{} },
	func() any { return &struct{}{} },
	func() any {
		return &struct {
			Permanent *bool `json:"permanent"`
		}{}
	},
	func() any {
		return &struct {
			SessionID *string `json:"sessionId"`
		}{}
	},
}

// FuzzDecode: a decode error is always an *apierr.Error with status 400 (or
// 413), rendered as the JSON error envelope; decode accepts only an empty
// body, null, or a JSON object of valid UTF-8.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", "null", " null ", "{}", `{"uid":"a","name":"N","metadata":{"k":[1,2]},"tags":["x"]}`,
		`{"name":5}`, `{"tags":"x"}`, `{"appInfo":{"userAgent":{"x":1}}}`, `{"settings":{"callTokenTTL":600}}`,
		`{"issuedBefore":1e99}`, `[1]`, `"x"`, `{"a":"\xff"}`, "{\"\xff\":1}", `{"a":1`, `{"a":1}{}`, "\u00a0{}"} {
		for i := range bodyTypes {
			f.Add([]byte(s), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		v := bodyTypes[int(which)%len(bodyTypes)]()
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/v3/users", bytes.NewReader(body))
		r.Body = http.MaxBytesReader(rec, r.Body, MaxBodyBytes)
		err := decode(r, v)
		if err == nil {
			if !acceptableBody(body) {
				t.Fatalf("decode accepted %q, which is not empty, null or a JSON object", body)
			}
			return
		}
		var ae *apierr.Error
		if !errors.As(err, &ae) {
			t.Fatalf("decode(%q) = %T %v, not an *apierr.Error", body, err, err)
		}
		if s := ae.Status(); s != http.StatusBadRequest && s != http.StatusRequestEntityTooLarge {
			t.Fatalf("decode(%q) = %v, status %d", body, err, s)
		}
		writeError(rec, r, slog.New(slog.DiscardHandler), err)
		var env struct {
			Error struct {
				Code    string         `json:"code"`
				Message string         `json:"message"`
				Details map[string]any `json:"details"`
			} `json:"error"`
		}
		if rec.Code != ae.Status() || json.Unmarshal(rec.Body.Bytes(), &env) != nil || env.Error.Code != string(ae.Code) ||
			env.Error.Message == "" || env.Error.Details == nil || !utf8.Valid(rec.Body.Bytes()) {
			t.Fatalf("decode(%q): the error renders as %d %s", body, rec.Code, rec.Body)
		}
	})
}

// acceptableBody: only JSON whitespace, null, or one JSON object, all valid UTF-8.
func acceptableBody(b []byte) bool {
	t := bytes.Trim(b, " \t\r\n")
	return len(t) == 0 || utf8.Valid(b) && json.Valid(b) && (t[0] == '{' || string(t) == "null")
}
