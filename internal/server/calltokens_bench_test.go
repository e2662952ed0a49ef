package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/callgate/callgate/internal/servertest"
)

// The call-token routes end to end: a real server over a real socket
// (SQLite), keep-alive clients. Run with
//
//	go test ./internal/server -run '^$' -bench CallToken -benchtime 3s

var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func benchPost(b *testing.B, url string, h map[string]string, body []byte) []byte {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	return benchDo(b, req)
}

func benchDo(b *testing.B, req *http.Request) []byte {
	resp, err := benchClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, out)
	}
	return out
}

func benchSetup(b *testing.B) (*servertest.Server, string) {
	srv := servertest.Start(b, servertest.Options{NoRealtime: true})
	out := benchPost(b, srv.URL+"/v3.0/users/cometchat-uid-1/auth_tokens", map[string]string{"appId": srv.AppID, "apiKey": srv.AuthKey}, []byte(`{}`))
	var env struct {
		Data struct {
			AuthToken string `json:"authToken"`
		} `json:"data"`
	}
	json.Unmarshal(out, &env)
	return srv, env.Data.AuthToken
}

// BenchmarkMintCallTokenHTTP: POST /v3.0/call_tokens, authentication
// (cached session) and signing included.
func BenchmarkMintCallTokenHTTP(b *testing.B) {
	srv, auth := benchSetup(b)
	h := map[string]string{"authToken": auth}
	body := []byte(`{"sessionId":"room-1"}`)
	url := srv.URL + "/v3.0/call_tokens"
	benchPost(b, url, h, body) // the signing key is opened and cached
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchPost(b, url, h, body)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkVerifyCallTokenOnline: GET /v3.0/call_tokens, the online check
// with its revocation lookups (two indexed reads).
func BenchmarkVerifyCallTokenOnline(b *testing.B) {
	srv, auth := benchSetup(b)
	out := benchPost(b, srv.URL+"/v3.0/call_tokens", map[string]string{"authToken": auth}, []byte(`{"sessionId":"room-1"}`))
	var env struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	json.Unmarshal(out, &env)
	url := srv.URL + "/v3.0/call_tokens"
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("callToken", env.Data.Token)
			benchDo(b, req)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}
