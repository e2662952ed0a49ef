package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed web
var web embed.FS

// File is one file of the console.
type File struct {
	// Path is where it is served: "/console" for the page itself,
	// "/console/…" for the rest.
	Path        string
	Body        []byte
	Gzip        []byte // Body gzipped, or nil when that saves nothing
	ContentType string
	ETag        string // a strong validator: a hash of Body
	HTML        bool   // the page (it carries the Content-Security-Policy)
}

// CSP is the console's Content-Security-Policy: its own scripts, styles
// and API only, no inline script or style, never framed.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".txt":  "text/plain; charset=utf-8",
}

// Files are the console's files, the page first.
var Files = func() []File {
	var out []File
	err := fs.WalkDir(web, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := types[path.Ext(p)]
		if !ok {
			panic("console: no content type for " + p)
		}
		b, err := web.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		f := File{Path: "/console/" + strings.TrimPrefix(p, "web/"), Body: b, ContentType: ct, ETag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		if p == "web/index.html" {
			f.Path, f.HTML = "/console", true
		}
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		w.Write(b)
		w.Close()
		if z.Len() < len(b)*9/10 {
			f.Gzip = z.Bytes()
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].HTML && !out[j].HTML })
	return out
}()
