package calls

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// The expiry of the session's auth token: OnAuthTokenWillExpire shortly
// before it, a refresh with AppSettings.TokenProvider then, and the end
// of the session at expiry.

// The backoff of a failed refresh's retries, in nanoseconds: 1 s doubling
// to 30 s. Atomic so tests can shorten it while timers of other clients
// run.
var refreshBackoffMin, refreshBackoffMax atomic.Int64

func init() {
	refreshBackoffMin.Store(int64(time.Second))
	refreshBackoffMax.Store(int64(30 * time.Second))
}

var (
	// wallCheck bounds how long a timer sleeps before it looks at the
	// wall clock again: Go's timers do not advance while the machine is
	// suspended, tokens expire by the wall clock.
	wallCheck = time.Minute
)

// expiry is the state of a client's timers. Lock order: exp.mu, then mu.
type expiry struct {
	mu      sync.Mutex
	token   string     // the session the timers are armed for; "" when none
	warn    *wallTimer // OnAuthTokenWillExpire, and the refresh
	end     *wallTimer // the end of the session
	retry   *wallTimer // the next attempt of a failed refresh
	run     *refreshRun
	backoff time.Duration // before the next retry
}

// refreshRun is a refresh in flight (one at a time: single flight).
type refreshRun struct{ cancel context.CancelFunc }

func (x *expiry) stopLocked() {
	for _, t := range []*wallTimer{x.warn, x.end, x.retry} {
		t.stop()
	}
	x.warn, x.end, x.retry = nil, nil, nil
	if x.run != nil {
		x.run.cancel()
		x.run = nil
	}
	x.token = ""
}

// arm sets the timers of u's session, replacing those of any other, when
// u is still the session of cfg (hooks may run late) and its token
// expires.
func (c *Client) arm(cfg *config, u *User) {
	c.exp.mu.Lock()
	defer c.exp.mu.Unlock()
	if !c.holds(cfg, u.AuthToken) {
		return
	}
	c.exp.stopLocked()
	token, exp := u.AuthToken, u.AuthTokenExpiresAt
	if exp <= 0 {
		return
	}
	c.exp.token = token
	c.exp.backoff = time.Duration(refreshBackoffMin.Load())
	c.exp.warn = afterWall(willExpireAt(token, exp, cfg.willExpireBefore, time.Now()), func() { c.willExpire(cfg, token, exp) })
	c.exp.end = afterWall(time.Unix(exp, 0), func() { c.endRevoked(token, RevokedTokenExpired) })
}

// disarm stops the timers and the refresh of token's session, if armed.
func (c *Client) disarm(token string) {
	c.exp.mu.Lock()
	defer c.exp.mu.Unlock()
	if c.exp.token == token {
		c.exp.stopLocked()
	}
}

// willExpireAt is when OnAuthTokenWillExpire fires for a token expiring at
// exp: lead before it, but at the latest at 90 % of the token's lifetime,
// counted from the second of its creation (in the token, {uid}_{unix
// seconds}{64 hex}) or, for a token of another shape, from now.
func willExpireAt(token string, exp int64, lead time.Duration, now time.Time) time.Time {
	end := time.Unix(exp, 0)
	life := end.Sub(now)
	if created := tokenCreated(token); created > 0 && created < exp {
		life = time.Duration(exp-created) * time.Second
	}
	return end.Add(-min(lead, max(life/10, 0)))
}

// tokenCreated returns the creation second of an auth token, 0 if s has
// not a token's shape.
func tokenCreated(s string) int64 {
	i := strings.LastIndexByte(s, '_')
	if i < 0 {
		return 0
	}
	tail := s[i+1:]
	if len(tail) <= 64 || len(tail) > 64+19 {
		return 0
	}
	digits, hex := tail[:len(tail)-64], tail[len(tail)-64:]
	for _, r := range hex {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return 0
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// expired reports whether token is the session's and has expired by the
// clock.
func (c *Client) expired(token string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := c.user
	return u != nil && u.AuthToken == token && u.AuthTokenExpiresAt > 0 && time.Now().Unix() >= u.AuthTokenExpiresAt
}

// willExpire runs at the will-expire moment of token's session.
func (c *Client) willExpire(cfg *config, token string, exp int64) {
	if !c.holds(cfg, token) {
		return
	}
	c.fireWillExpire(exp)
	if cfg.tokenProvider != nil {
		c.refresh(cfg, token, exp)
	}
}

// refresh moves token's session to a token from the TokenProvider. Only
// one runs at a time; one that fails is retried after a backoff with
// jitter (1 s doubling to 30 s), but never at
// or after expiry, when the session ends instead.
func (c *Client) refresh(cfg *config, token string, exp int64) {
	c.exp.mu.Lock()
	if c.exp.token != token || c.exp.run != nil {
		c.exp.mu.Unlock()
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(exp, 0))
	defer cancel()
	r := &refreshRun{cancel: cancel}
	c.exp.run = r
	c.exp.mu.Unlock()

	u, e := c.refreshOnce(ctx, cfg, token)

	c.exp.mu.Lock()
	// Failures are reported, and retried, only by a refresh that was not
	// cancelled: a logout, another login or a re-Init stops the timers
	// (run is then no longer r) and takes over.
	report := e != nil && c.exp.run == r && c.exp.token == token
	if c.exp.run == r {
		c.exp.run = nil
	}
	if report {
		wait := c.exp.backoff/2 + rand.N(c.exp.backoff/2+1)
		c.exp.backoff = min(c.exp.backoff*2, time.Duration(refreshBackoffMax.Load()))
		if at := time.Now().Add(wait); at.Before(time.Unix(exp, 0)) {
			c.exp.retry.stop()
			c.exp.retry = afterWall(at, func() { c.refresh(cfg, token, exp) })
		}
	}
	c.exp.mu.Unlock()

	if report {
		cfg.log.Warn("callgate: the auth token refresh failed; retrying until the token expires",
			"app", cfg.appID, "code", e.Code, "err", e.Description, "expiresAt", exp)
		c.fireLoginFailure(e)
	}
	if u != nil && c.holds(cfg, u.AuthToken) { // not after a logout that got in meanwhile
		c.fireLoginSuccess(u)
	}
}

func refreshFailed(format string, args ...any) *Error {
	return newError(ErrTokenRefreshFailed, fmt.Sprintf(format, args...))
}

// refreshOnce asks the TokenProvider once and, if its token is good,
// makes it the session: PUT /me with it, the store and memory, realtime
// reconnected with it; then DELETE /me with the old token. It returns the
// new user, or nil (with no error when the session moved on meanwhile).
func (c *Client) refreshOnce(ctx context.Context, cfg *config, old string) (*User, *Error) {
	// Until the new token is the session, LogoutOtherSessions waits: the
	// token exists on the server before the client has it.
	c.refreshGate.Lock()
	locked := true
	defer func() {
		if locked {
			c.refreshGate.Unlock()
		}
	}()
	_, cur := c.session()
	if cur == nil || !c.holds(cfg, old) {
		return nil, nil
	}
	token, err := callProvider(ctx, cfg.tokenProvider)
	switch {
	case err != nil:
		return nil, refreshFailed("the TokenProvider failed: %v", err)
	case strings.TrimSpace(token) == "":
		return nil, refreshFailed("the TokenProvider returned an empty token")
	case strings.ContainsFunc(token, unicode.IsSpace):
		return nil, refreshFailed("the TokenProvider returned a token with whitespace")
	case token == old:
		return nil, refreshFailed("the TokenProvider returned the session's current token, not a new one")
	}
	u, e := cfg.startSession(ctx, token)
	if e != nil {
		return nil, refreshFailed("the server did not start a session with the TokenProvider's token: %s: %s", e.Code, e.Description)
	}
	discard := func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		cfg.endSession(dctx, token)
	}
	if !strings.EqualFold(u.UID, cur.UID) {
		discard()
		return nil, refreshFailed("the TokenProvider returned a token of %s, not of the logged-in user %s", quote(u.UID), quote(cur.UID))
	}
	if u.AuthTokenExpiresAt != 0 && u.AuthTokenExpiresAt <= cur.AuthTokenExpiresAt {
		discard()
		return nil, refreshFailed("the TokenProvider returned a token that expires no later than the current one (%d)", cur.AuthTokenExpiresAt)
	}
	prev, ok := c.install(cfg, u, old)
	c.refreshGate.Unlock()
	locked = false
	if !ok { // a logout, a login or the expiry got there first
		discard()
		return nil, nil
	}
	c.endReplaced(ctx, cfg, prev, u)
	return u.clone(), nil
}

// callProvider calls the TokenProvider; a panic is an error.
func callProvider(ctx context.Context, p func(context.Context) (string, error)) (token string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return p(ctx)
}

// wallTimer calls f at a wall-clock time, however far, suspensions of the
// machine included: it wakes at least every wallCheck to look.
type wallTimer struct {
	mu      sync.Mutex
	at      time.Time // no monotonic reading: compared by the wall clock
	f       func()
	t       *time.Timer
	stopped bool
}

func afterWall(at time.Time, f func()) *wallTimer {
	w := &wallTimer{at: at.Round(0), f: f}
	w.mu.Lock()
	w.schedule()
	w.mu.Unlock()
	return w
}

func (w *wallTimer) schedule() {
	w.t = time.AfterFunc(min(max(time.Until(w.at), 0), wallCheck), w.fire)
}

func (w *wallTimer) fire() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	if time.Until(w.at) > 0 {
		w.schedule()
		w.mu.Unlock()
		return
	}
	w.stopped = true
	w.mu.Unlock()
	w.f()
}

// stop cancels the call unless it has begun (nil-safe).
func (w *wallTimer) stop() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.t != nil {
		w.t.Stop()
	}
}
