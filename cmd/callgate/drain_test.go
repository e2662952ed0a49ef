package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/callgate/callgate/internal/provision"
)

// SIGTERM drains the real binary before its listener closes: realtime
// connections are told 1001 at once, /readyz fails and requests are
// answered 503 + Retry-After for --shutdown-drain, and then the process
// exits (docs/operations.md "Several nodes behind nginx").
func TestServeDrainsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	t.Parallel()
	const drain = 1500 * time.Millisecond
	data := t.TempDir()
	p := startLogged(t, "http", &http.Client{}, "--dev", "--data", data, "--shutdown-drain", drain.String(), "--log-format", "json")
	creds, err := provision.ReadDevCredentials(filepath.Join(data, provision.DevCredentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	req := func(method, path string, h map[string]string) (*http.Response, error) {
		r, _ := http.NewRequest(method, p.url+path, nil)
		for k, v := range h {
			r.Header.Set(k, v)
		}
		res, err := c.Do(r)
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		return res, err
	}
	r, _ := http.NewRequest("POST", p.url+"/v3/users/cometchat-uid-1/auth_tokens", nil)
	r.Header.Set("appId", creds.AppID)
	r.Header.Set("apiKey", creds.AuthKey)
	res, err := c.Do(r)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("login: %v %v", res, err)
	}
	var tok struct{ Data struct{ AuthToken string } }
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	me := map[string]string{"appId": creds.AppID, "authToken": tok.Data.AuthToken}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.url, "http")+"/v3/ws?appId="+creds.AppID+"&authToken="+tok.Data.AuthToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.Read(ctx); err != nil || !strings.Contains(string(msg), "connected") {
		t.Fatalf("first message %q %v", msg, err)
	}
	wsClosed := make(chan websocket.StatusCode, 1)
	go func() {
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				wsClosed <- websocket.CloseStatus(err)
				return
			}
		}
	}()

	sent := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case code := <-wsClosed:
		if code != websocket.StatusGoingAway {
			t.Errorf("the WebSocket closed with %d, want 1001", code)
		}
		if d := time.Since(sent); d > drain/2 {
			t.Errorf("the WebSocket closed %v after SIGTERM, want at the start of the drain", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the WebSocket is still open 5 s after SIGTERM")
	}
	// Within the drain: refusals the client (or a proxy) can retry.
	sawReady, sawMe := false, false
	for time.Since(sent) < drain-300*time.Millisecond {
		if res, err := req("GET", "/readyz", nil); err != nil {
			t.Fatalf("/readyz %v after SIGTERM, within the drain: %v", time.Since(sent), err)
		} else if res.StatusCode == 503 {
			sawReady = true
		} else {
			t.Errorf("/readyz while draining: %d", res.StatusCode)
		}
		res, err := req("GET", "/v3/me", me)
		if err != nil {
			t.Fatalf("GET /v3/me %v after SIGTERM, within the drain: %v", time.Since(sent), err)
		}
		if res.StatusCode != 503 || res.Header.Get("Retry-After") != "1" {
			t.Errorf("GET /v3/me while draining: %d Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
		}
		sawMe = true
		time.Sleep(100 * time.Millisecond)
	}
	if !sawReady || !sawMe {
		t.Error("no request answered within the drain")
	}
	select {
	case <-p.done:
		if d := time.Since(sent); d < drain {
			t.Errorf("exited %v after SIGTERM, before the drain (%v) ended", d, drain)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit 15 s after SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d", code)
	}
	if _, err := req("GET", "/healthz", nil); err == nil {
		t.Error("the port still answers after the exit")
	}
}
