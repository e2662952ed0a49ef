package calls

// Error codes the SDK itself produces. Errors from the server keep the
// server's own code (ERR_UID_NOT_FOUND, AUTH_ERR_APIKEY_NOT_FOUND,
// AUTH_ERR_AUTH_TOKEN_NOT_FOUND, …; see docs/errors.md) and message.
//
// The codes are untyped string constants so that they compare directly with
// Error.Code.
const (
	// ErrInvalidUID: Login was given an empty or blank uid.
	ErrInvalidUID = "ERROR_INVALID_UID"
	// ErrUIDWithSpace: the uid passed to Login contains whitespace.
	ErrUIDWithSpace = "ERROR_UID_WITH_SPACE"
	// ErrAPIKeyNotFound: Login got no API key, neither as its argument nor
	// in AppSettings.AuthKey.
	ErrAPIKeyNotFound = "ERROR_API_KEY_NOT_FOUND"
	// ErrBlankAuthToken: LoginWithAuthToken was given an empty or blank token.
	ErrBlankAuthToken = "ERROR_BLANK_AUTHTOKEN"
	// ErrAuthTokenWithSpace: the token passed to LoginWithAuthToken contains whitespace.
	ErrAuthTokenWithSpace = "ERROR_AUTHTOKEN_WITH_SPACE"
	// ErrLoginInProgress: another Login or LoginWithAuthToken of the same
	// client has not returned yet.
	ErrLoginInProgress = "ERROR_LOGIN_IN_PROGRESS"
	// ErrSDKNotInitialized: Init (or New) has not succeeded for this client
	// (any call that needs the server).
	ErrSDKNotInitialized = "ERROR_SDK_NOT_INITIALIZED"
	// ErrNoUserLoggedIn: Logout, ListSessions, LogoutSession or
	// LogoutOtherSessions was called with nobody logged in.
	ErrNoUserLoggedIn = "ERROR_NO_USER_LOGGED_IN"
	// ErrNetwork: the server could not be reached (connection refused,
	// timeout, TLS failure, cancelled context) or answered something that is
	// not a callgate response. The description says which.
	ErrNetwork = "ERROR_NETWORK"
	// ErrInvalidAppSettings: Init or New was given bad AppSettings.
	ErrInvalidAppSettings = "ERROR_INVALID_APP_SETTINGS"
	// ErrSessionIDMissing: GenerateToken was given an empty or blank call
	// session ID, or LogoutSession an empty or blank session id.
	ErrSessionIDMissing = "ERROR_SESSION_ID_MISSING"
	// ErrAuthTokenMissing: GenerateToken was called with nobody logged in
	// (there is no auth token to mint the call token with).
	ErrAuthTokenMissing = "ERROR_AUTH_TOKEN_MISSING"
	// ErrTokenRefreshFailed: a refresh with AppSettings.TokenProvider
	// failed (reported to OnLoginFailure; the SDK retries with backoff
	// until the token expires). The description says why: the provider
	// failed or returned no new token, or the server refused the token.
	ErrTokenRefreshFailed = "ERROR_TOKEN_REFRESH_FAILED"
)

// Error is every error the SDK returns: a stable Code to match on and a
// human-readable Description. Use errors.As to get at it:
//
//	var e *calls.Error
//	if errors.As(err, &e) && e.Code == calls.ErrNetwork { … }
type Error struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

func (e *Error) Error() string {
	if e == nil {
		return "<nil>"
	}
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, &calls.Error{Code: calls.ErrNetwork}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && e != nil && t != nil && t.Code == e.Code
}

func newError(code, description string) *Error {
	return &Error{Code: code, Description: description}
}
