package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/store"
)

// CORS (docs/api.md "Browsers and CORS"). A preflight carries no custom
// headers, so it cannot name the app: it is answered permissively, without
// touching storage. The real request decides: once authentication has named
// the app, an Origin its corsOrigins setting does not allow is refused
// before the handler runs, so before any side effect. There are no cookies
// (the credentials are explicit headers), hence no Allow-Credentials.

var (
	corsAllowMethods  = "GET, POST, PUT, PATCH, DELETE"
	corsAllowHeaders  = "appId, apiKey, authToken, callToken, resource, sdk, Content-Type"
	corsExposeHeaders = "Retry-After, X-Request-Id, X-Rate-Limit, X-Rate-Limit-Remaining"
	corsMaxAge        = "600"
)

// isPreflight reports whether r is a CORS preflight.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// preflight answers a CORS preflight for an API route.
func preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
	h.Set("Access-Control-Allow-Methods", corsAllowMethods)
	h.Set("Access-Control-Allow-Headers", allowHeaders(r.Header.Get("Access-Control-Request-Headers")))
	h.Set("Access-Control-Max-Age", corsMaxAge)
	h.Add("Vary", "Origin")
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	w.WriteHeader(http.StatusNoContent)
}

// maxExtraHeaders bounds the names a preflight answer adds to the fixed
// list: browsers ask for the few headers a page sets, never for more.
const maxExtraHeaders = 64

// corsKnown are the fixed list's names in lower case.
var corsKnown = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Split(strings.ToLower(corsAllowHeaders), ", ") {
		m[n] = true
	}
	return m
}()

// allowHeaders is the fixed list plus whatever else the browser asks for:
// the server ignores headers it does not know (clients send their own, as
// the CometChat SDKs do), so refusing them would only break those clients.
// Only header-name characters pass, each name once (without case), and at
// most maxExtraHeaders of them. A preflight is unauthenticated: looking
// each name up in the answer so far made a 64 KB header cost seconds of
// CPU.
func allowHeaders(requested string) string {
	out := corsAllowHeaders
	var added map[string]bool
	for name := range strings.SplitSeq(requested, ",") {
		name = strings.TrimSpace(name)
		if name == "" || len(name) > 64 || !tokenChars(name) {
			continue
		}
		lower := strings.ToLower(name)
		if corsKnown[lower] || added[lower] {
			continue
		}
		if len(added) == maxExtraHeaders {
			break
		}
		if added == nil {
			added = map[string]bool{}
		}
		added[lower] = true
		out += ", " + name
	}
	return out
}

func tokenChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// allowCORS marks a response to a browser request as readable by its page.
func allowCORS(w http.ResponseWriter, origin string) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
}

// checkOrigin refuses a browser request whose Origin the app does not
// allow. Requests without an Origin (servers, CLIs) are unaffected.
func checkOrigin(r *http.Request, app *store.App) error {
	origin := r.Header.Get("Origin")
	if origin == "" || app == nil || OriginAllowed(app.Settings.CORSOrigins, origin) {
		return nil
	}
	return apierr.New(apierr.OriginNotAllowed).With("origin", sanitize(origin)).With("appId", app.ID)
}

// OriginAllowed reports whether origin matches one of allowed: "*", or an
// exact scheme://host[:port] compared without case (as browsers serialise
// origins in lower case; a default port is never serialised).
func OriginAllowed(allowed []string, origin string) bool {
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(a, origin) {
			return true
		}
	}
	return false
}

// ownPageAdmin reports whether a browser request refused by the app's
// corsOrigins comes from a page of this server's own origin — the web
// console — with a fullAccess key, which the origin check then lets
// through. Browsers send Origin on same-origin POST, PUT and DELETE too,
// so without this the console could change nothing until its own origin
// was listed, which takes a change made elsewhere first.
//
// Own origin: the scheme this server serves (https when it terminates TLS
// itself) with the request's Host, or the origin of Config.PublicURL
// (behind a proxy that terminates TLS). A browser sets both Origin and
// Host, and a page's script can change neither. Only a name pointed at
// this server by someone else (DNS rebinding) could make another site's
// page "same-origin" — hence fullAccess keys only: whoever holds one can
// call the whole API without a browser, so letting a page use it opens
// nothing. authOnly keys and auth tokens, which do belong in pages, still
// need the origin listed, as docs/api.md says.
func (s *Server) ownPageAdmin(r *http.Request, c *call) bool {
	if c.key == nil || c.key.Scope != store.ScopeFullAccess {
		return false
	}
	origin := r.Header.Get("Origin")
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return r.Host != "" && strings.EqualFold(origin, scheme+"://"+r.Host) ||
		s.publicOrigin != "" && strings.EqualFold(origin, s.publicOrigin)
}

// originOf is the origin of a base URL (scheme://host[:port]), or "".
func originOf(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}
