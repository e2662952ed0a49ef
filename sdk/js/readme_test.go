package sdkjs_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/callgate/callgate/internal/browsertest"
	"github.com/callgate/callgate/internal/servertest"
)

// TestREADMEBrowserPage loads the page of the README's quick start, as
// written there, in Chromium from another origin, against a dev server:
// only the server's address and the placeholders the README tells the
// reader to fill in are replaced. It must show the user, then the logout.
func TestREADMEBrowserPage(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	start := strings.Index(s, "## The seed's flow in a browser")
	if start < 0 {
		t.Fatal(`README.md has no section "The seed's flow in a browser"`)
	}
	m := regexp.MustCompile("(?s)```html\n(.*?)```").FindStringSubmatch(s[start:])
	if m == nil {
		t.Fatal("the README's browser section has no html block")
	}
	srv := servertest.Start(t, servertest.Options{})
	page := m[1]
	for _, r := range [][2]string{
		{"http://127.0.0.1:8080", srv.URL}, {"APP_ID", srv.AppID}, {"REGION", srv.Region}, {"AUTH_KEY", srv.AuthKey},
	} {
		if !strings.Contains(page, r[0]) {
			t.Fatalf("the README's page lacks %s:\n%s", r[0], page)
		}
		page = strings.ReplaceAll(page, r[0], r[1])
	}
	pages := browsertest.ServePages(t, browsertest.HTML(map[string]string{"/": page}))
	tab := browsertest.Start(t).NewContext(t)
	tab.Navigate(pages.Origin + "/")
	want := "logged in as Andrew Joseph (cometchat-uid-1, online)\nLogout successful\n"
	if err := tab.WaitFor(`document.getElementById("out").textContent.includes("Logout successful")`, 10*time.Second); err != nil {
		t.Fatalf("the README's page: %v\npage text: %s\nexceptions: %v", err, tab.MustEval(`document.getElementById("out").textContent`), tab.Exceptions())
	}
	if got := evalJSON[string](t, tab, `document.getElementById("out").textContent`); got != want {
		t.Errorf("the README's page shows\n%q\nwant\n%q", got, want)
	}
	if !strings.Contains(s[start:], want[:strings.Index(want, "\n")]) {
		t.Errorf("the README does not quote what its page shows (%q)", want[:strings.Index(want, "\n")])
	}
}
