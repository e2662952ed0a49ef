package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// benchSetup creates bench users with one token each, and measures the
// size of a GET /me body for the baseline.
func benchSetup(ctx context.Context, env *benchEnv, n int) error {
	env.uids = make([]string, n)
	env.tokens = make([]string, n)
	client := &http.Client{Timeout: 30 * time.Second}
	do := func(method, path, key string, body any) (map[string]any, error) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, method, env.url+path, bytes.NewReader(b))
		req.Header.Set("appId", env.app)
		req.Header.Set("apiKey", key)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		var out struct {
			Data  map[string]any
			Error map[string]any
		}
		json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode != 200 && !(res.StatusCode == 409 && method == "POST" && path == "/v3/users") {
			return nil, fmt.Errorf("%s %s: %d %v", method, path, res.StatusCode, out.Error)
		}
		return out.Data, nil
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				uid := fmt.Sprintf("bench-user-%d", i)
				if _, err := do("POST", "/v3/users", env.restKey, map[string]any{"uid": uid, "name": "Bench User " + strconv.Itoa(i)}); err != nil {
					errc <- err
					return
				}
				d, err := do("POST", "/v3/users/"+uid+"/auth_tokens", env.restKey, map[string]any{})
				if err != nil {
					errc <- err
					return
				}
				env.uids[i], env.tokens[i] = uid, fmt.Sprint(d["authToken"])
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return fmt.Errorf("setting up bench users: %w", err)
	default:
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", env.url+"/v3/me", nil)
	req.Header.Set("appId", env.app)
	req.Header.Set("authToken", env.tokens[0])
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	env.meBodySize = len(body)
	return nil
}
