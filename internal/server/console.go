package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/callgate/callgate/internal/console"
)

// consoleRoutes serve the web console (docs/console.md) at /console and
// its files under /console/. They are static and public: without an app
// ID and a fullAccess key, which the page asks for and keeps in the tab's
// sessionStorage, it can do nothing. Like the SDK, browsers revalidate
// with the ETag, so an upgraded server's console is there at the next
// load.
func (s *Server) consoleRoutes() []route {
	var out []route
	for _, f := range console.Files {
		out = append(out, route{method: "GET", path: f.Path, ops: true, h: s.consoleFile(f)})
	}
	return out
}

func (s *Server) consoleFile(f console.File) handlerFunc {
	length, gzLength := strconv.Itoa(len(f.Body)), strconv.Itoa(len(f.Gzip))
	return func(w http.ResponseWriter, r *http.Request, _ *call) error {
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.ETag)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Vary", "Accept-Encoding")
		if f.HTML {
			// The page: its own scripts and styles only, never framed,
			// and no Referer that could name it to anyone.
			h.Set("Content-Security-Policy", console.CSP)
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
		}
		if etagMatch(r.Header.Get("If-None-Match"), f.ETag) {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		h["Content-Type"] = []string{f.ContentType}
		body, n := f.Body, length
		if f.Gzip != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, n = f.Gzip, gzLength
			h.Set("Content-Encoding", "gzip")
		}
		h["Content-Length"] = []string{n}
		w.WriteHeader(http.StatusOK)
		w.Write(body)
		return nil
	}
}

// acceptsGzip reports whether an Accept-Encoding header takes gzip (and
// does not refuse it with q=0).
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
