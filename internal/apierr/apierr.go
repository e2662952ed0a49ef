package apierr

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Code is a stable, documented error code. Clients match on it.
type Code string

const (
	EmptyAppID         Code = "AUTH_ERR_EMPTY_APPID"
	InvalidAppID       Code = "AUTH_ERR_INVALID_APPID"
	EmptyAPIKey        Code = "AUTH_ERR_EMPTY_APIKEY"
	APIKeyNotFound     Code = "AUTH_ERR_APIKEY_NOT_FOUND"
	NoAccess           Code = "AUTH_ERR_NO_ACCESS"
	EmptyAuthToken     Code = "AUTH_ERR_EMPTY_AUTH_TOKEN"
	AuthTokenNotFound  Code = "AUTH_ERR_AUTH_TOKEN_NOT_FOUND"
	UIDNotFound        Code = "ERR_UID_NOT_FOUND"
	UIDAlreadyExists   Code = "ERR_UID_ALREADY_EXISTS"
	RESTTokenNotFound  Code = "ERR_AUTH_TOKEN_NOT_FOUND"
	RESTAPIKeyNotFound Code = "ERR_APIKEY_NOT_FOUND"
	APIKeyLimit        Code = "ERR_APIKEY_LIMIT_REACHED"
	CallTokenInvalid   Code = "ERR_CALL_TOKEN_INVALID"
	CallTokenExpired   Code = "ERR_CALL_TOKEN_EXPIRED"
	CallTokenRevoked   Code = "ERR_CALL_TOKEN_REVOKED"
	BadRequest         Code = "ERR_BAD_REQUEST"
	OriginNotAllowed   Code = "ERR_ORIGIN_NOT_ALLOWED"
	PayloadTooLarge    Code = "ERR_PAYLOAD_TOO_LARGE"
	TooManyRequests    Code = "ERR_TOO_MANY_REQUESTS"
	EndpointNotFound   Code = "ERR_ENDPOINT_NOT_FOUND"
	ServiceUnavailable Code = "ERR_SERVICE_UNAVAILABLE"
	Internal           Code = "ERR_INTERNAL"
)

// Entry is one row of the catalogue. Message and DevMessage may hold
// {placeholders} filled from the error's parameters.
type Entry struct {
	Code       Code
	Status     int
	Message    string // shown to end users; safe to display
	DevMessage string // what the developer should do next
	When       string // for docs/errors.md
}

// Catalogue lists every code callgate answers with, in documentation order.
var Catalogue = []Entry{
	{EmptyAppID, http.StatusUnauthorized,
		"The appId is missing.",
		"Send the appId header (or use a {appId}.api-{region}.example.com host).",
		"No `appId` header and no app name in the Host."},
	{InvalidAppID, http.StatusUnauthorized,
		"The appId {appId} is invalid.",
		"No app with this id exists on this server; check the appId you configured (callgate apps list).",
		"The app does not exist."},
	{EmptyAPIKey, http.StatusUnauthorized,
		"The apiKey is missing.",
		"Send the apiKey header with a key of this app.",
		"No `apiKey` header on a REST call."},
	{APIKeyNotFound, http.StatusUnauthorized,
		"The apiKey is invalid for the appId {appId}.",
		"The key is unknown or belongs to another app; create one with `callgate keys create`.",
		"The key is unknown, deleted, or of another app. Checked before the uid."},
	{NoAccess, http.StatusForbidden,
		"The apiKey does not have access to this resource.",
		"This call needs a fullAccess key; authOnly keys may only create users and auth tokens.",
		"The key's scope does not allow the call."},
	{EmptyAuthToken, http.StatusUnauthorized,
		"The authToken is missing.",
		"Send the authToken header (the token returned by POST /users/{uid}/auth_tokens).",
		"No `authToken` header on a client API call."},
	{AuthTokenNotFound, http.StatusUnauthorized,
		"The auth token is invalid or has expired.",
		"Log in again: the token is unknown, revoked, expired, of a deactivated user, or of another app.",
		"The token is unknown, revoked, expired, or belongs to another app."},
	{UIDNotFound, http.StatusNotFound,
		"The UID {uid} does not exist, please make sure you have created a user with UID {uid}.",
		"Create the user first (POST /users) or check the uid.",
		"Unknown or deactivated user."},
	{UIDAlreadyExists, http.StatusConflict,
		"The UID {uid} already exists, please use a different UID.",
		"uids are unique per app and compared in lower case.",
		"A user with this uid already exists."},
	{RESTTokenNotFound, http.StatusNotFound,
		"The auth token does not exist for the UID {uid}.",
		"List the user's tokens with GET /users/{uid}/auth_tokens.",
		"REST call on a token that does not exist."},
	{RESTAPIKeyNotFound, http.StatusNotFound,
		"The API key does not exist.",
		"List the app's keys with GET /apikeys.",
		"REST call on a key that does not exist."},
	{APIKeyLimit, http.StatusConflict,
		"The app already has the maximum of {max} API keys.",
		"Delete a key you no longer use (DELETE /apikeys/{id}) before creating another.",
		"Creating a key beyond the per-app limit."},
	{CallTokenInvalid, http.StatusUnauthorized,
		"The call token is invalid.",
		"Send the token POST /call_tokens returned, unaltered, in the callToken header (details.reason says what is wrong with this one).",
		"`GET /call_tokens`: the `callToken` is missing, malformed, not EdDSA, badly signed, of an unknown or unpublished key, for another audience or app (an `appId` header naming another app), or not yet valid."},
	{CallTokenExpired, http.StatusUnauthorized,
		"The call token has expired.",
		"Mint a fresh one (POST /call_tokens); call tokens live the app's callTokenTTL (default 1 hour).",
		"`GET /call_tokens`: the call token was valid but its `exp` (plus the leeway) has passed."},
	{CallTokenRevoked, http.StatusUnauthorized,
		"The call token has been revoked.",
		"The auth token that minted it no longer exists (logout, deleted, flushed, expired) or its user was deleted or deactivated: log in again and mint a new one.",
		"`GET /call_tokens`: the call token is well signed and unexpired, but the auth token that minted it was revoked or its user deleted or deactivated."},
	{OriginNotAllowed, http.StatusForbidden,
		"The origin {origin} is not allowed to call the app {appId}.",
		"Add the page's origin (scheme://host[:port]) to the app's corsOrigins: PUT /app or `callgate apps settings --cors-origins`.",
		"A browser request whose `Origin` the app's `corsOrigins` setting does not list; refused before it changes anything (WebSocket upgrades too)."},
	{BadRequest, http.StatusBadRequest,
		"The request is invalid: {reason}",
		"Fix the fields named in details and retry.",
		"Malformed JSON or a bad field; `details` names each field."},
	{PayloadTooLarge, http.StatusRequestEntityTooLarge,
		"The request body is larger than {limit} bytes.",
		"Send a smaller body.",
		"The body is over the limit (1 MiB)."},
	{TooManyRequests, http.StatusTooManyRequests,
		"Too many requests, please retry after {retryAfter} seconds.",
		"Slow down: honour the Retry-After header.",
		"Rate limited; `Retry-After` is set."},
	{EndpointNotFound, http.StatusNotFound,
		"The API endpoint is invalid. Please verify the API call.",
		"Check the method and path against the API reference (docs/api.md).",
		"Unknown path, or a method the path does not serve."},
	{ServiceUnavailable, http.StatusServiceUnavailable,
		"The service is temporarily unavailable, please retry.",
		"Storage is unreachable or overloaded, or this node is shutting down (details.draining is true); retry after Retry-After, with backoff: behind a load balancer the retry reaches another node.",
		"Storage down or overloaded, or the node is draining; `Retry-After` is set."},
	{Internal, http.StatusInternalServerError,
		"Something went wrong on the server.",
		"Retry; if it persists, report the request id in the X-Request-Id header.",
		"An unexpected failure. Never carries internal detail."},
}

var byCode = func() map[Code]Entry {
	m := make(map[Code]Entry, len(Catalogue))
	for _, e := range Catalogue {
		m[e.Code] = e
	}
	return m
}()

// Error is an API error: a catalogue code plus the parameters of this
// occurrence. Cause is for logs only and is never sent to clients.
type Error struct {
	Code    Code
	Params  map[string]string
	Details map[string]any
	Header  map[string]string // extra response headers (Retry-After, Allow)
	Cause   error
}

// New returns an error for code c.
func New(c Code) *Error {
	if _, ok := byCode[c]; !ok {
		panic("apierr: unknown code " + string(c))
	}
	return &Error{Code: c}
}

// With sets a message parameter.
func (e *Error) With(key, value string) *Error {
	if e.Params == nil {
		e.Params = map[string]string{}
	}
	e.Params[key] = value
	return e
}

// Field records a bad field in details and makes it the reason if none is set.
func (e *Error) Field(name, problem string) *Error {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	e.Details[name] = problem
	if e.Params["reason"] == "" {
		e.With("reason", name+" "+problem+".")
	}
	return e
}

// SetDetails records a detail without touching the message.
func (e *Error) SetDetails(key string, value any) *Error {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	e.Details[key] = value
	return e
}

// SetHeader adds a response header sent with the error.
func (e *Error) SetHeader(k, v string) *Error {
	if e.Header == nil {
		e.Header = map[string]string{}
	}
	e.Header[k] = v
	return e
}

// Wrap attaches an internal cause (logged, never rendered).
func (e *Error) Wrap(cause error) *Error { e.Cause = cause; return e }

// Status is the HTTP status of the error's code.
func (e *Error) Status() int { return byCode[e.Code].Status }

// Message renders the user-facing message.
func (e *Error) Message() string { return fill(byCode[e.Code].Message, e.Params) }

// DevMessage renders the developer hint.
func (e *Error) DevMessage() string { return fill(byCode[e.Code].DevMessage, e.Params) }

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s (%v)", e.Code, e.Message(), e.Cause)
	}
	return string(e.Code) + ": " + e.Message()
}

func (e *Error) Unwrap() error { return e.Cause }

func fill(tmpl string, params map[string]string) string {
	if !strings.Contains(tmpl, "{") {
		return tmpl
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:i])
		key := tmpl[i+1 : i+j]
		if v, ok := params[key]; ok {
			b.WriteString(v)
		} else {
			b.WriteString(tmpl[i : i+j+1])
		}
		tmpl = tmpl[i+j+1:]
	}
}

// Markdown renders the catalogue as docs/errors.md.
func Markdown() string {
	var b strings.Builder
	b.WriteString("# Error codes\n\n")
	b.WriteString("<!-- Generated from internal/apierr by `go run ./internal/apierr/gen`; do not edit. -->\n\n")
	b.WriteString("Every error body has the same shape; `code`, `message`, `devMessage` and `source` are always present:\n\n")
	b.WriteString("```json\n{\"error\":{\"code\":\"ERR_UID_NOT_FOUND\",\"message\":\"…\",\"devMessage\":\"…\",\"source\":\"callgate\",\"details\":{}}}\n```\n\n")
	b.WriteString("| code | HTTP status | when | message |\n|---|---|---|---|\n")
	for _, e := range Catalogue {
		fmt.Fprintf(&b, "| `%s` | %d | %s | %s |\n", e.Code, e.Status, e.When, strings.ReplaceAll(e.Message, "|", "\\|"))
	}
	b.WriteString("\nWhat to do next, per code (`devMessage`):\n\n")
	codes := make([]string, 0, len(Catalogue))
	dev := map[string]string{}
	for _, e := range Catalogue {
		codes = append(codes, string(e.Code))
		dev[string(e.Code)] = e.DevMessage
	}
	sort.Strings(codes)
	for _, c := range codes {
		fmt.Fprintf(&b, "- `%s`: %s\n", c, dev[c])
	}
	return b.String()
}
