package sdkjs

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
)

//go:embed calls.js calls.d.ts
var files embed.FS

// File is one embedded file of the SDK.
type File struct {
	Name        string // calls.js
	Body        []byte
	ContentType string
	ETag        string // a strong validator: a hash of Body
}

// Files are the SDK's files, served at /sdk/{Name}.
var Files = func() []File {
	var out []File
	for _, f := range []File{
		{Name: "calls.js", ContentType: "text/javascript; charset=utf-8"},
		{Name: "calls.d.ts", ContentType: "application/typescript; charset=utf-8"},
	} {
		b, err := files.ReadFile(f.Name)
		if err != nil {
			panic(err) // embedded at build time: cannot happen
		}
		sum := sha256.Sum256(b)
		f.Body, f.ETag = b, `"`+hex.EncodeToString(sum[:12])+`"`
		out = append(out, f)
	}
	return out
}()
