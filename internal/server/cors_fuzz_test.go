package server

import (
	"strings"
	"testing"
)

// FuzzAllowHeaders: the preflight's Access-Control-Allow-Headers is the
// fixed list, then each requested header name (1–64 token characters) the
// list lacks, once, compared without case; nothing else gets in (no CR/LF,
// no separators), and the answer stays small whatever was asked.
func FuzzAllowHeaders(f *testing.F) {
	for _, s := range []string{"", "content-type", "X-Custom, x-custom, X-CUSTOM", "appid,APIKEY", "a b, c\td, e:f",
		"x-" + strings.Repeat("a", 62) + ", x-" + strings.Repeat("a", 63), ",,, ,", "x\r\nSet-Cookie: a=b", "é"} {
		f.Add(s)
	}
	var many strings.Builder
	for i := range 100 {
		many.WriteString("x" + string(rune('a'+i%26)) + strings.Repeat("z", i/26) + ",")
	}
	f.Add(many.String())
	fixed := strings.Split(corsAllowHeaders, ", ")
	f.Fuzz(func(t *testing.T, requested string) {
		out := allowHeaders(requested)
		if !strings.HasPrefix(out, corsAllowHeaders) {
			t.Fatalf("allowHeaders(%q) = %q: not the fixed list first", requested, out)
		}
		if len(out) > len(corsAllowHeaders)+maxExtraHeaders*(2+64) {
			t.Fatalf("allowHeaders: %d bytes from %d requested", len(out), len(requested))
		}
		names := strings.Split(out, ", ")
		seen := map[string]bool{}
		for _, n := range names {
			if n == "" || len(n) > 64 || !tokenChars(n) || seen[strings.ToLower(n)] {
				t.Fatalf("allowHeaders(%q) = %q: bad or repeated name %q", requested, out, n)
			}
			seen[strings.ToLower(n)] = true
		}
		// The extra names are the valid names asked for that the fixed
		// list lacks, each once, in the order asked, up to the bound.
		var wanted []string
		dup := map[string]bool{}
		for _, n := range strings.Split(requested, ",") {
			n = strings.TrimSpace(n)
			if n == "" || len(n) > 64 || !tokenChars(n) || containsFold(fixed, n) || dup[strings.ToLower(n)] {
				continue
			}
			dup[strings.ToLower(n)] = true
			wanted = append(wanted, n)
		}
		extras := names[len(fixed):]
		if len(extras) != min(len(wanted), maxExtraHeaders) {
			t.Fatalf("allowHeaders(%q) = %q: %d extra names, want %d", requested, out, len(extras), min(len(wanted), maxExtraHeaders))
		}
		for i, n := range extras {
			if n != wanted[i] {
				t.Fatalf("allowHeaders(%q) = %q: extra name %d is %q, want %q", requested, out, i, n, wanted[i])
			}
		}
	})
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
