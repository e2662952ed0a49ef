package realtime

// Reason says why a session was revoked. Clients receive it in
// session_revoked and as the reason of the 4001 close (docs/realtime.md);
// this is the one set, which the SDKs mirror (docs/design.md "Revocation").
type Reason string

// The revocation reasons (docs/realtime.md lists what causes each).
const (
	ReasonLogout          Reason = "logout"
	ReasonTokenDeleted    Reason = "token_deleted"
	ReasonTokensFlushed   Reason = "tokens_flushed"
	ReasonUserDeleted     Reason = "user_deleted"
	ReasonUserDeactivated Reason = "user_deactivated"
	ReasonTokenExpired    Reason = "token_expired"
	// ReasonLoggedOutElsewhere: the user ended this session from another of
	// theirs (DELETE /me/sessions/{id}, DELETE /me/sessions).
	ReasonLoggedOutElsewhere Reason = "logged_out_elsewhere"
	// ReasonTokensRevoked: every token issued before a time was revoked
	// (POST /auth_tokens/revoke, POST /users/{uid}/auth_tokens/revoke).
	ReasonTokensRevoked Reason = "tokens_revoked"
	// ReasonTokenIdle: the token went unused longer than the app's
	// authTokenIdleTimeout.
	ReasonTokenIdle Reason = "token_idle"
)

// Reasons returns every Reason, so that mirrors of the set can be checked
// against it.
func Reasons() []Reason {
	return []Reason{
		ReasonLogout,
		ReasonTokenDeleted,
		ReasonTokensFlushed,
		ReasonUserDeleted,
		ReasonUserDeactivated,
		ReasonTokenExpired,
		ReasonLoggedOutElsewhere,
		ReasonTokensRevoked,
		ReasonTokenIdle,
	}
}
