package servertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// Response is an answer of the API, read in full: its status and the
// parts of callgate's JSON envelope ({"data": …} or {"error": {"code": …}}).
type Response struct {
	Status int
	Header http.Header
	Data   json.RawMessage // the envelope's data; nil on an error
	Code   string          // the envelope's error code; "" on success
	Body   []byte          // as received
}

// Do sends one request to base+path with the headers h and, unless body is
// nil, body as JSON. An answer that is not callgate's JSON envelope fails
// the test. This is the one plain HTTP helper of the tests outside
// internal/server (whose own tests have richer ones).
func Do(t testing.TB, base, method, path string, h map[string]string, body any) *Response {
	t.Helper()
	return do(t, http.DefaultClient, base, method, path, h, body)
}

func do(t testing.TB, client *http.Client, base, method, path string, h map[string]string, body any) *Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", method, path, err)
	}
	var env struct {
		Data  json.RawMessage `json:"data"`
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("%s %s: HTTP %d, not a callgate answer: %v\n%s", method, path, resp.StatusCode, err, raw)
	}
	r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	if env.Error != nil {
		r.Code = env.Error.Code
	} else {
		r.Data = env.Data
	}
	return r
}

// Do is Do against s as its dev app: the appId header is s.AppID unless h
// sets it. It sends with s.Client, so it works with TLS too.
func (s *Server) Do(t testing.TB, method, path string, h map[string]string, body any) *Response {
	t.Helper()
	hh := map[string]string{"appId": s.AppID}
	for k, v := range h {
		if http.CanonicalHeaderKey(k) == "Appid" {
			delete(hh, "appId")
		}
		hh[k] = v
	}
	return do(t, s.Client, s.URL, method, path, hh, body)
}

// Decode unmarshals the answer's data into v (left as it is when there is
// no data), failing the test if it does not fit.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Data) == 0 {
		return
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("data of the answer: %v\n%s", err, r.Data)
	}
}
