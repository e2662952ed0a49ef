package server

import (
	"net/http"
	"strconv"

	sdkjs "github.com/callgate/callgate/sdk/js"
)

// sdkRoutes serve the JavaScript SDK (docs/sdk-js.md) at /sdk/{file}, to
// any origin: it is public code. Browsers revalidate with the ETag
// (no-cache), so a new server version reaches them at once while an
// unchanged file costs a 304.
func (s *Server) sdkRoutes() []route {
	var out []route
	for _, f := range sdkjs.Files {
		out = append(out, route{method: "GET", path: "/sdk/" + f.Name, ops: true, h: s.sdkFile(f)})
	}
	return out
}

// sdkFile serves one file of the SDK.
func (s *Server) sdkFile(f sdkjs.File) handlerFunc {
	length := strconv.Itoa(len(f.Body))
	return func(w http.ResponseWriter, r *http.Request, _ *call) error {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cache-Control", "public, no-cache")
		h.Set("ETag", f.ETag)
		if etagMatch(r.Header.Get("If-None-Match"), f.ETag) {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		h["Content-Type"] = []string{f.ContentType}
		h["Content-Length"] = []string{length}
		w.WriteHeader(http.StatusOK)
		w.Write(f.Body)
		return nil
	}
}
