// Package calls is the Go SDK of callgate: the authentication API of the
// CometChat Calls SDK v5 — app ID and region, API-key login for development,
// auth-token login for production, a remembered logged-in user, logout — in
// idiomatic Go, against a callgate server.
//
// # The flow
//
// Initialise once, at start-up, with your app's settings. Host is the base
// URL of the callgate server (default $CALLGATE_HOST, else DefaultHost).
// `callgate serve --dev` prints the dev app's values and saves them to
// ./callgate-data/dev-credentials.json:
//
//	err := calls.Init(calls.AppSettings{
//		AppID:  "…",
//		Region: "us",
//		Host:   "http://127.0.0.1:8080",
//	})
//
// Init restores the session saved by an earlier run, without a network
// call, so check for a logged-in user before logging in — users log in
// once per session, not at every start:
//
//	user := calls.GetLoggedInUser() // *calls.User, or nil
//	if user == nil {
//		user, err = calls.Login(ctx, "cometchat-uid-1", authKey)
//		if err != nil {
//			var e *calls.Error
//			errors.As(err, &e)
//			log.Fatalf("login failed: %s (%s)", e.Code, e.Description)
//		}
//	}
//	fmt.Println("logged in as", user.Name)
//
// Login with an API key is for development: the key would ship inside your
// app. In production your backend creates an auth token for the user with
// its REST key (POST /v3/users/{uid}/auth_tokens) and the app logs in with
// it:
//
//	user, err := calls.LoginWithAuthToken(ctx, authToken)
//
// IsUserLoggedIn and GetUserAuthToken answer from memory, like
// GetLoggedInUser. Logout revokes the token on the server and clears the
// saved session:
//
//	msg, err := calls.Logout(ctx) // "Logout successful"
//
// # Errors
//
// Every error is a *Error with a Code and a Description. The SDK's own codes
// are the Err… constants (ERROR_INVALID_UID, ERROR_LOGIN_IN_PROGRESS,
// ERROR_NETWORK, …). Errors from the server keep the server's code and
// message: ERR_UID_NOT_FOUND for an unknown uid, AUTH_ERR_APIKEY_NOT_FOUND
// for a bad key, AUTH_ERR_AUTH_TOKEN_NOT_FOUND for an unknown, revoked or
// expired token (see docs/errors.md of the callgate repository).
//
// Login checks its input in this order: a login already in flight
// (ERROR_LOGIN_IN_PROGRESS), an empty or blank uid (ERROR_INVALID_UID), a
// uid with a space (ERROR_UID_WITH_SPACE), no API key
// (ERROR_API_KEY_NOT_FOUND), not initialised (ERROR_SDK_NOT_INITIALIZED).
// LoginWithAuthToken: in flight, blank token (ERROR_BLANK_AUTHTOKEN), token
// with a space (ERROR_AUTHTOKEN_WITH_SPACE), not initialised.
//
// # Sessions
//
// One login runs at a time per client; a second one started meanwhile
// returns ERROR_LOGIN_IN_PROGRESS at once. Logging in as the user already
// logged in (uids compare case-insensitively) returns the session without a
// request. Logging in as someone else first establishes the new session,
// then logs the previous one out on the server. A failed login changes
// nothing.
//
// The session is kept by a SessionStore: by default a 0600 JSON file per app
// under os.UserConfigDir()/callgate/sessions (NewFileStore), written
// atomically. NewMemoryStore keeps it in memory only, for tests, servers and
// bots.
//
// A user can list their sessions (ListSessions) and end one
// (LogoutSession) or all others (LogoutOtherSessions).
//
// # Expiry
//
// When the app gives tokens a lifetime, User.AuthTokenExpiresAt says when
// the session's token expires. OnAuthTokenWillExpire fires shortly before
// (AppSettings.TokenWillExpireBefore); with AppSettings.TokenProvider the
// SDK then moves the session to a new token from your backend, else the
// session ends at expiry with OnSessionRevoked(RevokedTokenExpired).
//
// # Clients and listeners
//
// The package-level functions use a default client. New returns independent
// clients, each with its own settings, session and listeners; every method
// of a Client is safe for concurrent use. AddLoginListener registers
// callbacks for every login and logout outcome; they run without any lock of
// the SDK held, and a panicking callback is recovered and logged.
package calls
