package calls_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/calls"
	"github.com/callgate/callgate/calltoken"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/store/sqlite"
)

// The examples run against a real callgate server with a dev app, started
// in-process by TestMain. In your code these values come from
// ./callgate-data/dev-credentials.json, written by `callgate serve --dev`.
var (
	appID   string // the dev app's appId
	region  string // its region, "us"
	host    string // the server, e.g. http://127.0.0.1:8080
	authKey string // its authOnly key: what Login needs
	restKey string // its fullAccess key: stays on your backend
)

func TestMain(m *testing.M) {
	stop, err := startExampleServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "example server:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

// startExampleServer is servertest.Start for code without a *testing.T.
func startExampleServer() (stop func(), err error) {
	ctx, cancel := context.WithCancel(context.Background())
	dir, err := os.MkdirTemp("", "callgate-examples-")
	if err != nil {
		cancel()
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, sqlite.FileName), sqlite.Options{})
	if err != nil {
		cancel()
		os.RemoveAll(dir)
		return nil, err
	}
	api := server.New(server.Config{Store: st})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		st.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	url := "http://" + ln.Addr().String()
	creds, _, err := provision.DevBootstrap(ctx, st, dir, url, time.Now())
	if err != nil {
		cancel()
		ln.Close()
		st.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	appID, region, host, authKey, restKey = creds.AppID, creds.Region, url, creds.AuthKey, creds.RESTAPIKey
	done := make(chan struct{})
	go func() {
		defer close(done)
		server.Serve(ctx, ln, api, slog.New(slog.DiscardHandler), nil)
	}()
	return func() {
		cancel()
		<-done
		api.Close()
		st.Close()
		os.RemoveAll(dir)
	}, nil
}

// yourBackendCreatesAnAuthToken is what your server does for a user who
// signed in to your app: create an auth token with the REST key
// (POST /v3/users/{uid}/auth_tokens) and hand it to the client.
func yourBackendCreatesAnAuthToken(uid string) string {
	req, _ := http.NewRequest("POST", host+"/v3/users/"+uid+"/auth_tokens", bytes.NewReader([]byte(`{}`)))
	req.Header.Set("appId", appID)
	req.Header.Set("apiKey", restKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			AuthToken string `json:"authToken"`
		} `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	return out.Data.AuthToken
}

// The seed's flow: initialise, reuse the saved session or log in, use it,
// log out.
func Example() {
	ctx := context.Background()
	err := calls.Init(calls.AppSettings{
		AppID:        appID,
		Region:       region,
		Host:         host,
		SessionStore: calls.NewMemoryStore(), // omit it to keep the session in a file between runs
	})
	if err != nil {
		log.Fatal(err)
	}

	user := calls.GetLoggedInUser()
	if user == nil {
		user, err = calls.Login(ctx, "cometchat-uid-1", authKey)
		if err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("Logged in as", user.UID, "-", user.Name)

	msg, err := calls.Logout(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(msg)
	// Output:
	// Logged in as cometchat-uid-1 - Andrew Joseph
	// Logout successful
}

func ExampleInit() {
	err := calls.Init(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})
	fmt.Println("init:", err)

	// Bad settings are refused.
	err = calls.Init(calls.AppSettings{AppID: "My App", Region: "us", Host: host})
	var e *calls.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code)
	}
	// Output:
	// init: <nil>
	// ERROR_INVALID_APP_SETTINGS
}

func ExampleNew() {
	// Independent clients: one per bot, tenant or test.
	alice, err := calls.New(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})
	if err != nil {
		log.Fatal(err)
	}
	bob, err := calls.New(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	a, _ := alice.Login(ctx, "cometchat-uid-1", authKey)
	b, _ := bob.Login(ctx, "cometchat-uid-2", authKey)
	fmt.Println(a.Name, "and", b.Name)
	alice.Logout(ctx)
	bob.Logout(ctx)
	// Output: Andrew Joseph and George Alan
}

func ExampleLogin() {
	ctx := context.Background()
	calls.Init(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})

	user, err := calls.Login(ctx, "cometchat-uid-1", authKey)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(user.UID, user.Name, user.Status)

	// An unknown user: the server's error passes through.
	_, err = calls.Login(ctx, "nobody", authKey)
	var e *calls.Error
	errors.As(err, &e)
	fmt.Println(e.Code)

	calls.Logout(ctx)
	// Output:
	// cometchat-uid-1 Andrew Joseph online
	// ERR_UID_NOT_FOUND
}

func ExampleLoginWithAuthToken() {
	ctx := context.Background()
	calls.Init(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})

	authToken := yourBackendCreatesAnAuthToken("cometchat-uid-2")
	user, err := calls.LoginWithAuthToken(ctx, authToken)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(user.Name, user.AuthToken == authToken)
	calls.Logout(ctx)
	// Output: George Alan true
}

func ExampleGetLoggedInUser() {
	ctx := context.Background()
	calls.Init(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})
	fmt.Println(calls.GetLoggedInUser() == nil)

	calls.Login(ctx, "cometchat-uid-3", authKey)
	fmt.Println(calls.GetLoggedInUser().Name)
	calls.Logout(ctx)
	// Output:
	// true
	// Nancy Grace
}

func ExampleIsUserLoggedIn() {
	ctx := context.Background()
	calls.Init(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})
	calls.Login(ctx, "cometchat-uid-1", authKey)
	fmt.Println(calls.IsUserLoggedIn())
	calls.Logout(ctx)
	fmt.Println(calls.IsUserLoggedIn())
	// Output:
	// true
	// false
}

func ExampleGetUserAuthToken() {
	ctx := context.Background()
	calls.Init(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})
	user, _ := calls.Login(ctx, "cometchat-uid-1", authKey)
	fmt.Println(calls.GetUserAuthToken() == user.AuthToken)
	calls.Logout(ctx)
	fmt.Printf("%q\n", calls.GetUserAuthToken())
	// Output:
	// true
	// ""
}

func ExampleLogout() {
	ctx := context.Background()
	calls.Init(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})
	calls.Login(ctx, "cometchat-uid-1", authKey)

	msg, err := calls.Logout(ctx)
	fmt.Println(msg, err)

	_, err = calls.Logout(ctx)
	fmt.Println(err)
	// Output:
	// Logout successful <nil>
	// ERROR_NO_USER_LOGGED_IN: Nobody is logged in.
}

func ExampleAddLoginListener() {
	ctx := context.Background()
	calls.Init(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})
	calls.AddLoginListener("ui", calls.LoginListener{
		OnLoginSuccess:  func(u *calls.User) { fmt.Println("login success:", u.UID) },
		OnLoginFailure:  func(e *calls.Error) { fmt.Println("login failure:", e.Code) },
		OnLogoutSuccess: func() { fmt.Println("logout success") },
		OnLogoutFailure: func(e *calls.Error) { fmt.Println("logout failure:", e.Code) },
	})
	defer calls.RemoveLoginListener("ui")

	calls.Login(ctx, "cometchat-uid 1", authKey)
	calls.Login(ctx, "cometchat-uid-1", authKey)
	calls.Logout(ctx)
	calls.Logout(ctx)
	// Output:
	// login failure: ERROR_UID_WITH_SPACE
	// login success: cometchat-uid-1
	// logout success
	// logout failure: ERROR_NO_USER_LOGGED_IN
}

func ExampleRemoveLoginListener() {
	ctx := context.Background()
	calls.Init(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})
	calls.AddLoginListener("once", calls.LoginListener{
		OnLoginFailure: func(e *calls.Error) { fmt.Println("failure:", e.Code) },
	})
	calls.Login(ctx, "", "")
	calls.RemoveLoginListener("once")
	calls.Login(ctx, "", "") // nobody listens any more
	// Output: failure: ERROR_INVALID_UID
}

func ExampleNewMemoryStore() {
	store := calls.NewMemoryStore()
	first, _ := calls.New(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: store})
	first.Login(context.Background(), "cometchat-uid-4", authKey)

	// Another client on the same store restores the session (no request).
	second, _ := calls.New(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: store})
	fmt.Println(second.GetLoggedInUser().Name)
	second.Logout(context.Background())
	// Output: Susan Marie
}

func ExampleNewFileStore() {
	dir, _ := os.MkdirTemp("", "sessions-")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	c, _ := calls.New(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewFileStore(dir)})
	c.Login(ctx, "cometchat-uid-5", authKey)

	// The next run of the program: still logged in, from the file.
	restarted, _ := calls.New(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewFileStore(dir)})
	fmt.Println(restarted.GetLoggedInUser().Name)

	fi, _ := os.Stat(filepath.Join(dir, appID+".json"))
	fmt.Println(fi.Mode().Perm())
	restarted.Logout(ctx)
	// Output:
	// John Paul
	// -rw-------
}

func ExampleError() {
	c, _ := calls.New(calls.AppSettings{AppID: appID, Region: region, Host: "http://127.0.0.1:1", SessionStore: calls.NewMemoryStore()})
	_, err := c.Login(context.Background(), "cometchat-uid-1", authKey)

	var e *calls.Error
	if errors.As(err, &e) {
		switch e.Code {
		case calls.ErrNetwork:
			fmt.Println("the server is unreachable; retry later")
		case "ERR_UID_NOT_FOUND":
			fmt.Println("no such user")
		}
	}
	fmt.Println(errors.Is(err, &calls.Error{Code: calls.ErrNetwork}))
	// Output:
	// the server is unreachable; retry later
	// true
}

func newExampleClient() *calls.Client {
	c, err := calls.New(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})
	if err != nil {
		log.Fatal(err)
	}
	return c
}

func ExampleClient_Init() {
	var c calls.Client // the zero Client is not initialised
	_, err := c.Login(context.Background(), "cometchat-uid-1", authKey)
	fmt.Println(err.(*calls.Error).Code)

	err = c.Init(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})
	fmt.Println(err)
	// Output:
	// ERROR_SDK_NOT_INITIALIZED
	// <nil>
}

func ExampleClient_Login() {
	c := newExampleClient()
	ctx := context.Background()
	user, err := c.Login(ctx, "cometchat-uid-1", authKey)
	if err != nil {
		log.Fatal(err)
	}
	// Logging in as the same user again (any case) makes no request.
	again, _ := c.Login(ctx, "CometChat-UID-1", authKey)
	fmt.Println(user.Name, again.AuthToken == user.AuthToken)
	c.Logout(ctx)
	// Output: Andrew Joseph true
}

func ExampleClient_LoginWithAuthToken() {
	c := newExampleClient()
	ctx := context.Background()
	user, err := c.LoginWithAuthToken(ctx, yourBackendCreatesAnAuthToken("cometchat-uid-2"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(user.Name)

	_, err = c.LoginWithAuthToken(ctx, "not a token")
	fmt.Println(err.(*calls.Error).Code)
	c.Logout(ctx)
	// Output:
	// George Alan
	// ERROR_AUTHTOKEN_WITH_SPACE
}

func ExampleClient_GetLoggedInUser() {
	c := newExampleClient()
	c.Login(context.Background(), "cometchat-uid-1", authKey)
	u := c.GetLoggedInUser()
	fmt.Println(u.UID, u.Role)
	c.Logout(context.Background())
	// Output: cometchat-uid-1 default
}

func ExampleClient_IsUserLoggedIn() {
	c := newExampleClient()
	fmt.Println(c.IsUserLoggedIn())
	// Output: false
}

func ExampleClient_GetUserAuthToken() {
	c := newExampleClient()
	token := yourBackendCreatesAnAuthToken("cometchat-uid-1")
	c.LoginWithAuthToken(context.Background(), token)
	fmt.Println(c.GetUserAuthToken() == token)
	c.Logout(context.Background())
	// Output: true
}

func ExampleClient_Logout() {
	c := newExampleClient()
	ctx := context.Background()
	c.Login(ctx, "cometchat-uid-1", authKey)
	msg, err := c.Logout(ctx)
	fmt.Println(msg, err, c.IsUserLoggedIn())
	// Output: Logout successful <nil> false
}

func ExampleClient_AddLoginListener() {
	c := newExampleClient()
	c.AddLoginListener("audit", calls.LoginListener{
		OnLoginSuccess: func(u *calls.User) { fmt.Println("welcome,", u.Name) },
	})
	c.Login(context.Background(), "cometchat-uid-2", authKey)
	c.Logout(context.Background())
	// Output: welcome, George Alan
}

func ExampleClient_RemoveLoginListener() {
	c := newExampleClient()
	c.AddLoginListener("audit", calls.LoginListener{
		OnLogoutSuccess: func() { fmt.Println("bye") },
	})
	c.RemoveLoginListener("audit")
	c.Login(context.Background(), "cometchat-uid-2", authKey)
	c.Logout(context.Background())
	fmt.Println("no listener called")
	// Output: no listener called
}

// A call token for one call session, verified as a media server would:
// offline, against the server's public keys (package calltoken).
func ExampleGenerateToken() {
	ctx := context.Background()
	calls.Init(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})
	calls.Login(ctx, "cometchat-uid-1", authKey)

	token, err := calls.GenerateToken(ctx, "standup-42")
	if err != nil {
		log.Fatal(err)
	}

	// On the media server:
	verifier := calltoken.NewVerifier(host+"/.well-known/jwks.json", calltoken.WithAppID(appID))
	claims, err := verifier.Verify(ctx, token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.UID, claims.Name, claims.SessionID, claims.Grants.Join)

	calls.Logout(ctx)
	_, err = calls.GenerateToken(ctx, "standup-42")
	fmt.Println(err.(*calls.Error).Code)
	// Output:
	// cometchat-uid-1 Andrew Joseph standup-42 true
	// ERROR_AUTH_TOKEN_MISSING
}

func ExampleClient_GenerateToken() {
	c := newExampleClient()
	ctx := context.Background()
	_, err := c.GenerateToken(ctx, " ")
	fmt.Println(err.(*calls.Error).Code)

	c.Login(ctx, "cometchat-uid-2", authKey)
	token, err := c.GenerateToken(ctx, "room-7")
	fmt.Println(strings.Count(token, "."), err)

	// The server's errors pass through.
	_, err = c.GenerateToken(ctx, "room 7")
	fmt.Println(err.(*calls.Error).Code)
	c.Logout(ctx)
	// Output:
	// ERROR_SESSION_ID_MISSING
	// 2 <nil>
	// ERR_BAD_REQUEST
}

// A user's sessions: one per login, on whatever device.
func ExampleListSessions() {
	ctx := context.Background()
	calls.Init(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})
	calls.Login(ctx, "cometchat-uid-3", authKey)
	calls.LogoutOtherSessions(ctx) // start from this session alone
	laptop := newExampleClient()
	laptop.Login(ctx, "cometchat-uid-3", authKey)

	sessions, err := calls.ListSessions(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range sessions {
		if s.Current {
			fmt.Println("this one:", s.Platform, s.ExpiresAt == 0)
		} else {
			fmt.Println("another:", s.Platform, strings.HasPrefix(s.UserAgent, "callgate-go/"))
		}
	}
	calls.LogoutOtherSessions(ctx)
	calls.Logout(ctx)
	// Unordered output:
	// this one: go true
	// another: go true
}

// "Log out of that device."
func ExampleLogoutSession() {
	ctx := context.Background()
	calls.Init(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})
	calls.Login(ctx, "cometchat-uid-3", authKey)
	calls.LogoutOtherSessions(ctx)
	laptop := newExampleClient()
	laptop.Login(ctx, "cometchat-uid-3", authKey)

	sessions, _ := calls.ListSessions(ctx)
	for _, s := range sessions {
		if !s.Current {
			fmt.Println("logout:", calls.LogoutSession(ctx, s.ID))
		}
	}
	// The laptop's token is revoked (with realtime, it would hear
	// OnSessionRevoked("logged_out_elsewhere") at once).
	_, err := laptop.ListSessions(ctx)
	fmt.Println(err.(*calls.Error).Code)

	// An id that is not one of the user's sessions.
	err = calls.LogoutSession(ctx, "tok_0000")
	fmt.Println(err.(*calls.Error).Code)
	calls.Logout(ctx)
	// Output:
	// logout: <nil>
	// AUTH_ERR_AUTH_TOKEN_NOT_FOUND
	// ERR_AUTH_TOKEN_NOT_FOUND
}

// "Log out everywhere else."
func ExampleLogoutOtherSessions() {
	ctx := context.Background()
	calls.Init(calls.AppSettings{AppID: appID, Region: region, Host: host, SessionStore: calls.NewMemoryStore()})
	calls.Login(ctx, "cometchat-uid-3", authKey)
	calls.LogoutOtherSessions(ctx)
	for range 2 {
		newExampleClient().Login(ctx, "cometchat-uid-3", authKey)
	}

	n, err := calls.LogoutOtherSessions(ctx)
	fmt.Println(n, err, calls.IsUserLoggedIn())
	calls.Logout(ctx)
	_, err = calls.LogoutOtherSessions(ctx)
	fmt.Println(err.(*calls.Error).Code)
	// Output:
	// 2 <nil> true
	// ERROR_NO_USER_LOGGED_IN
}

func ExampleClient_ListSessions() {
	c := newExampleClient()
	ctx := context.Background()
	_, err := c.ListSessions(ctx)
	fmt.Println(err.(*calls.Error).Code)

	c.Login(ctx, "cometchat-uid-4", authKey)
	c.LogoutOtherSessions(ctx)
	sessions, err := c.ListSessions(ctx)
	fmt.Println(len(sessions), sessions[0].Current, err)
	c.Logout(ctx)
	// Output:
	// ERROR_NO_USER_LOGGED_IN
	// 1 true <nil>
}

// LogoutSession with the client's own session is a Logout.
func ExampleClient_LogoutSession() {
	c := newExampleClient()
	ctx := context.Background()
	c.Login(ctx, "cometchat-uid-4", authKey)
	c.AddLoginListener("ui", calls.LoginListener{OnLogoutSuccess: func() { fmt.Println("logged out") }})

	sessions, _ := c.ListSessions(ctx)
	for _, s := range sessions {
		if s.Current {
			c.LogoutSession(ctx, s.ID)
		}
	}
	fmt.Println(c.IsUserLoggedIn())
	// Output:
	// logged out
	// false
}

func ExampleClient_LogoutOtherSessions() {
	phone, laptop := newExampleClient(), newExampleClient()
	ctx := context.Background()
	phone.Login(ctx, "cometchat-uid-5", authKey)
	phone.LogoutOtherSessions(ctx)
	laptop.Login(ctx, "cometchat-uid-5", authKey)

	n, _ := laptop.LogoutOtherSessions(ctx)
	_, err := phone.ListSessions(ctx)
	fmt.Println(n, err.(*calls.Error).Code)
	laptop.Logout(ctx)
	// Output: 1 AUTH_ERR_AUTH_TOKEN_NOT_FOUND
}

// With a TokenProvider the SDK refreshes the session before its token
// expires: your backend creates the new token.
func ExampleAppSettings_tokenProvider() {
	calls.Init(calls.AppSettings{
		AppID: appID, Region: region, Host: host,
		TokenProvider: func(ctx context.Context) (string, error) {
			// Ask your backend, which creates one with its REST key
			// (POST /v3/users/{uid}/auth_tokens).
			return yourBackendCreatesAnAuthToken("cometchat-uid-1"), nil
		},
		TokenWillExpireBefore: 2 * time.Minute, // ask 2 minutes ahead (default 1)
	})
	calls.AddLoginListener("refresh", calls.LoginListener{
		OnLoginSuccess: func(u *calls.User) { log.Printf("session of %s until %d", u.UID, u.AuthTokenExpiresAt) },
		OnLoginFailure: func(e *calls.Error) {
			if e.Code == calls.ErrTokenRefreshFailed {
				log.Print("refresh failed, retrying: ", e.Description)
			}
		},
	})
}

// Without a TokenProvider, warn the user and have them log in again.
func ExampleLoginListener_authTokenWillExpire() {
	calls.AddLoginListener("expiry", calls.LoginListener{
		OnAuthTokenWillExpire: func(expiresAt int64) {
			log.Printf("your session ends at %s: please sign in again", time.Unix(expiresAt, 0).Format(time.Kitchen))
		},
	})
	calls.AddConnectionListener("expiry", calls.ConnectionListener{
		OnSessionRevoked: func(reason string) {
			if reason == calls.RevokedTokenExpired {
				log.Print("signed out: the session expired")
			}
		},
	})
}
