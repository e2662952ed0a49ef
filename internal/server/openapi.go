package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync"

	"github.com/callgate/callgate/internal/openapi"
)

// described is the description (docs/openapi.json, embedded), its ETag
// and its gzipped form: about a tenth of its size, made on first use.
type described struct {
	body, gz []byte
	etag     string
}

var openapiDoc = sync.OnceValue(func() described {
	d := described{body: openapi.JSON()}
	sum := sha256.Sum256(d.body)
	d.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	w.Write(d.body)
	w.Close()
	d.gz = z.Bytes()
	return d
})

// openapiJSON serves GET /openapi.json, the OpenAPI description of this
// server's HTTP surface, to any origin (it is public, like the SDK), with
// an ETag browsers and tools revalidate.
func (s *Server) openapiJSON(w http.ResponseWriter, r *http.Request, _ *call) error {
	d := openapiDoc()
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "public, no-cache")
	h.Set("ETag", d.etag)
	h.Set("Vary", "Accept-Encoding")
	if etagMatch(r.Header.Get("If-None-Match"), d.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h["Content-Type"] = []string{"application/json"}
	body := d.body
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = d.gz
		h.Set("Content-Encoding", "gzip")
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return nil
}
