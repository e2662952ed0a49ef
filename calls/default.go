package calls

import "context"

// std is the default client of the package-level functions. It is never
// replaced: Init re-initialises it in place, so listeners added before Init
// stay registered.
var std = &Client{}

// Init (re)initialises the default client; see Client.Init.
func Init(s AppSettings) error { return std.Init(s) }

// Login logs uid in on the default client; see Client.Login.
func Login(ctx context.Context, uid, apiKey string) (*User, error) {
	return std.Login(ctx, uid, apiKey)
}

// LoginWithAuthToken logs in with an auth token on the default client; see
// Client.LoginWithAuthToken.
func LoginWithAuthToken(ctx context.Context, authToken string) (*User, error) {
	return std.LoginWithAuthToken(ctx, authToken)
}

// GetLoggedInUser returns the logged-in user of the default client, or nil
// (also before Init). It never makes a network call.
func GetLoggedInUser() *User { return std.GetLoggedInUser() }

// IsUserLoggedIn reports whether a user is logged in on the default client
// (false before Init). It never makes a network call.
func IsUserLoggedIn() bool { return std.IsUserLoggedIn() }

// GetUserAuthToken returns the auth token of the default client's user, or
// "" (also before Init). It never makes a network call.
func GetUserAuthToken() string { return std.GetUserAuthToken() }

// Logout logs the default client's user out; see Client.Logout.
func Logout(ctx context.Context) (string, error) { return std.Logout(ctx) }

// AddLoginListener registers a login listener on the default client; see
// Client.AddLoginListener. Listeners may be added before Init.
func AddLoginListener(id string, l LoginListener) { std.AddLoginListener(id, l) }

// RemoveLoginListener removes a login listener of the default client.
func RemoveLoginListener(id string) { std.RemoveLoginListener(id) }

// AddUserListener registers a presence listener on the default client; see
// Client.AddUserListener.
func AddUserListener(id string, l UserListener) { std.AddUserListener(id, l) }

// RemoveUserListener removes a presence listener of the default client.
func RemoveUserListener(id string) { std.RemoveUserListener(id) }

// AddConnectionListener registers a connection listener on the default
// client; see Client.AddConnectionListener.
func AddConnectionListener(id string, l ConnectionListener) { std.AddConnectionListener(id, l) }

// RemoveConnectionListener removes a connection listener of the default client.
func RemoveConnectionListener(id string) { std.RemoveConnectionListener(id) }
