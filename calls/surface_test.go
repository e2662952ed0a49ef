package calls_test

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/callgate/callgate/calls"
)

// The exact surface of the SDK (docs/sdk-go.md "API"): other code is
// compiled against these names and types, so this file must keep compiling.
var (
	_ func(calls.AppSettings) error                                             = calls.Init
	_ func(calls.AppSettings) (*calls.Client, error)                            = calls.New
	_ func() *calls.User                                                        = calls.GetLoggedInUser
	_ func(context.Context, string, string) (*calls.User, error)                = calls.Login
	_ func(context.Context, string) (*calls.User, error)                        = calls.LoginWithAuthToken
	_ func() bool                                                               = calls.IsUserLoggedIn
	_ func() string                                                             = calls.GetUserAuthToken
	_ func(context.Context) (string, error)                                     = calls.Logout
	_ func(string, calls.LoginListener)                                         = calls.AddLoginListener
	_ func(string)                                                              = calls.RemoveLoginListener
	_ func() calls.SessionStore                                                 = calls.NewMemoryStore
	_ func(string) calls.SessionStore                                           = calls.NewFileStore
	_ func(*calls.Client) *calls.User                                           = (*calls.Client).GetLoggedInUser
	_ func(*calls.Client, context.Context, string, string) (*calls.User, error) = (*calls.Client).Login
	_ func(*calls.Client, context.Context, string) (*calls.User, error)         = (*calls.Client).LoginWithAuthToken
	_ func(*calls.Client) bool                                                  = (*calls.Client).IsUserLoggedIn
	_ func(*calls.Client) string                                                = (*calls.Client).GetUserAuthToken
	_ func(*calls.Client, context.Context) (string, error)                      = (*calls.Client).Logout
	_ func(*calls.Client, string, calls.LoginListener)                          = (*calls.Client).AddLoginListener
	_ func(*calls.Client, string)                                               = (*calls.Client).RemoveLoginListener
	_ error                                                                     = (*calls.Error)(nil)

	// Call tokens (docs/call-tokens.md).
	_ func(context.Context, string) (string, error)                = calls.GenerateToken
	_ func(*calls.Client, context.Context, string) (string, error) = (*calls.Client).GenerateToken
	_ string                                                       = calls.ErrSessionIDMissing
	_ string                                                       = calls.ErrAuthTokenMissing

	// Realtime (docs/realtime.md).
	_ func(string, calls.UserListener)                      = calls.AddUserListener
	_ func(string)                                          = calls.RemoveUserListener
	_ func(string, calls.ConnectionListener)                = calls.AddConnectionListener
	_ func(string)                                          = calls.RemoveConnectionListener
	_ func(*calls.Client, string, calls.UserListener)       = (*calls.Client).AddUserListener
	_ func(*calls.Client, string)                           = (*calls.Client).RemoveUserListener
	_ func(*calls.Client, string, calls.ConnectionListener) = (*calls.Client).AddConnectionListener
	_ func(*calls.Client, string)                           = (*calls.Client).RemoveConnectionListener
	_                                                       = calls.UserListener{OnUserOnline: func(*calls.User) {}, OnUserOffline: func(*calls.User) {}}
	_                                                       = calls.ConnectionListener{OnConnected: func() {}, OnDisconnected: func() {}, OnSessionRevoked: func(string) {}}
	_ func() []string                                       = calls.RevokedReasons
	_ string                                                = calls.RevokedLogout + calls.RevokedTokenDeleted + calls.RevokedTokensFlushed + calls.RevokedUserDeleted + calls.RevokedUserDeactivated + calls.RevokedTokenExpired

	// A user's own sessions.
	_ func(context.Context) ([]calls.Session, error)                = calls.ListSessions
	_ func(context.Context, string) error                           = calls.LogoutSession
	_ func(context.Context) (int, error)                            = calls.LogoutOtherSessions
	_ func(*calls.Client, context.Context) ([]calls.Session, error) = (*calls.Client).ListSessions
	_ func(*calls.Client, context.Context, string) error            = (*calls.Client).LogoutSession
	_ func(*calls.Client, context.Context) (int, error)             = (*calls.Client).LogoutOtherSessions
	_                                                               = calls.Session{
		ID: "", Platform: "", DeviceID: "", UserAgent: "",
		CreatedAt: int64(0), LastUsedAt: int64(0), ExpiresAt: int64(0),
		Current: false, Connected: false,
	}
	_ string = calls.RevokedLoggedOutElsewhere

	_ = calls.AppSettings{
		AppID: "", Region: "", Host: "", AuthKey: "",
		SessionStore: calls.SessionStore(nil), HTTPClient: (*http.Client)(nil),
		DisableRealtime: false, Presence: "", Logger: (*slog.Logger)(nil),
		TokenProvider:         func(context.Context) (string, error) { return "", nil },
		TokenWillExpireBefore: time.Duration(0),
	}
	_ = calls.Error{Code: "", Description: ""}
	_ = calls.LoginListener{
		OnLoginSuccess:  func(*calls.User) {},
		OnLoginFailure:  func(*calls.Error) {},
		OnLogoutSuccess: func() {},
		OnLogoutFailure: func(*calls.Error) {},

		OnAuthTokenWillExpire: func(expiresAt int64) {},
	}
	_ string = calls.ErrTokenRefreshFailed
	_        = calls.User{
		UID: "", Name: "", Avatar: "", Status: "", AuthToken: "",
		Link: "", Role: "", Metadata: map[string]any{}, LastActiveAt: int64(0),
		AuthTokenExpiresAt: int64(0),
	}
	_ calls.SessionStore = sessionStoreShape(nil)
)

type sessionStoreShape interface {
	Load(appID string) (*calls.User, error)
	Save(appID string, u *calls.User) error
	Clear(appID string) error
}
