package server

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// The hand-written encoders must match encoding/json byte for byte.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	weird := []string{"", "plain", `quo"te`, `back\slash`, "<script>&amp;", "tab\tnew\nline\r", "\x00\x01\x1f\x7f",
		"ünïcødé ✓ 🎉", "line\u2028sep\u2029", "bad\xffutf8\xc3", strings.Repeat("x", 300)}
	pick := func(r *rand.Rand) string { return weird[r.IntN(len(weird))] }
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		u := userJSON{UID: pick(r), Name: pick(r), Avatar: pick(r), Link: pick(r), Role: pick(r), Status: pick(r),
			LastActiveAt: r.Int64N(3) * 1700000000, CreatedAt: r.Int64N(2e9), UpdatedAt: r.Int64N(2) * 5,
			DeactivatedAt: r.Int64N(2) * -7, AuthToken: pick(r)}
		if r.IntN(2) == 0 {
			u.Metadata = json.RawMessage(`{"a":[1,2,{"b":"c"}]}`)
		}
		for range r.IntN(3) {
			u.Tags = append(u.Tags, pick(r))
		}
		want, _ := json.Marshal(u)
		if got := u.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("case %d user:\n got  %s\n want %s", i, got, want)
		}
		tk := tokenJSON{ID: pick(r), UID: pick(r), AuthToken: pick(r), Platform: pick(r), DeviceID: pick(r), UserAgent: pick(r),
			CreatedAt: r.Int64N(2e9), LastUsedAt: r.Int64N(2) * 3, ExpiresAt: r.Int64N(2) * 9}
		want, _ = json.Marshal(tk)
		if got := tk.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("case %d token:\n got  %s\n want %s", i, got, want)
		}
	}
}
