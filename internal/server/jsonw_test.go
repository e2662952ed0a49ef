package server

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// The hand-written encoders must match encoding/json byte for byte. Every
// field of the wire types is filled by reflection, so a field added to
// wire.User or wire.Token and not to its encoder fails here.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	weird := []string{"", "plain", `quo"te`, `back\slash`, "<script>&amp;", "tab\tnew\nline\r", "\x00\x01\x1f\x7f",
		"ünïcødé ✓ 🎉", "line\u2028sep\u2029", "bad\xffutf8\xc3", strings.Repeat("x", 300)}
	r := rand.New(rand.NewPCG(1, 2))
	rawType := reflect.TypeFor[json.RawMessage]()
	fill := func(v reflect.Value) {
		for i := range v.NumField() {
			f, sf := v.Field(i), v.Type().Field(i)
			switch {
			case sf.Type == rawType:
				if r.IntN(2) == 0 {
					f.Set(reflect.ValueOf(json.RawMessage(`{"a":[1,2,{"b":"c"}]}`)))
				}
			case sf.Type.Kind() == reflect.String:
				f.SetString(weird[r.IntN(len(weird))])
			case sf.Type == reflect.TypeFor[*int64]():
				if r.IntN(3) > 0 {
					n := []int64{0, 1700000000}[r.IntN(2)]
					f.Set(reflect.ValueOf(&n))
				}
			case sf.Type.Kind() == reflect.Int64:
				f.SetInt([]int64{0, -7, 5, 1700000000, r.Int64N(2e9)}[r.IntN(5)])
			case sf.Type.Kind() == reflect.Bool:
				f.SetBool(r.IntN(2) == 0)
			case sf.Type == reflect.TypeFor[[]string]():
				var tags []string
				for range r.IntN(3) {
					tags = append(tags, weird[r.IntN(len(weird))])
				}
				f.Set(reflect.ValueOf(tags))
			default:
				t.Fatalf("%s.%s is a %s: teach this test (and the encoder) about it", v.Type(), sf.Name, sf.Type)
			}
		}
	}
	for i := range 2000 {
		var u userJSON
		fill(reflect.ValueOf(&u).Elem())
		want, _ := json.Marshal(u)
		if got := u.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("case %d user:\n got  %s\n want %s", i, got, want)
		}
		var tk tokenJSON
		fill(reflect.ValueOf(&tk).Elem())
		want, _ = json.Marshal(tk)
		if got := tk.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("case %d token:\n got  %s\n want %s", i, got, want)
		}
	}
}
