package console_test

import (
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/callgate/callgate/internal/console"
)

// The files keep to the page's Content-Security-Policy and to plain text:
// no inline script, style or handler (the CSP would block them), no HTML
// built from strings (user data goes in as text), no eval; and every file
// the page or a module names exists.
func TestFilesKeepToTheCSP(t *testing.T) {
	byPath := map[string]console.File{}
	for _, f := range console.Files {
		byPath[f.Path] = f
	}
	page, ok := byPath["/console"]
	if !ok || !page.HTML || console.Files[0].Path != "/console" {
		t.Fatal("no page at /console, first")
	}
	html := string(page.Body)
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s+type="module")?\s*>`), // a script without src
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\sstyle=`),
		regexp.MustCompile(`\son[a-z]+=`),
		regexp.MustCompile(`javascript:`),
	} {
		if bad.MatchString(html) {
			t.Errorf("index.html: %s", bad.FindString(html))
		}
	}
	// Every file the page names, relative to /console's directory.
	for _, m := range regexp.MustCompile(`(?:src|href)="(console/[^"]+)"`).FindAllStringSubmatch(html, -1) {
		if _, ok := byPath["/"+m[1]]; !ok {
			t.Errorf("index.html names %s, which is not served", m[1])
		}
	}
	imports := regexp.MustCompile(`(?:from\s+|import\()\s*"(\.[^"]+)"`)
	for _, f := range console.Files {
		if !strings.HasSuffix(f.Path, ".js") {
			continue
		}
		src := string(f.Body)
		for _, bad := range []string{"innerHTML", "outerHTML =", "insertAdjacentHTML", "eval(", "new Function", `setAttribute("style"`, "document.write", ".cssText"} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s", f.Path, bad)
			}
		}
		for _, m := range imports.FindAllStringSubmatch(src, -1) {
			target := path.Join(path.Dir(f.Path), m[1])
			if _, ok := byPath[target]; !ok {
				t.Errorf("%s imports %s, which is not served", f.Path, m[1])
			}
		}
		if strings.Contains(src, "localStorage.setItem") && !strings.Contains(f.Path, "app.js") && !strings.Contains(f.Path, "theme.js") {
			t.Errorf("%s writes localStorage (only the theme may be kept there)", f.Path)
		}
	}
	if !strings.Contains(console.CSP, "script-src 'self'") || strings.Contains(console.CSP, "unsafe") {
		t.Errorf("CSP %q", console.CSP)
	}
}
