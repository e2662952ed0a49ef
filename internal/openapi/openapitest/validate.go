package openapitest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// The JSON Schema (2020-12) subset the description may use, and this
// validator checks. Lint refuses a schema with any other keyword, so that
// nothing in the description looks checked without being so.
var (
	assertions = map[string]bool{
		"$ref": true, "type": true, "enum": true, "const": true,
		"properties": true, "required": true, "additionalProperties": true, "items": true,
		"allOf": true, "oneOf": true,
		"minimum": true, "maximum": true, "minLength": true, "maxLength": true, "pattern": true,
		"minItems": true, "maxItems": true,
	}
	annotations = map[string]bool{
		"description": true, "title": true, "format": true, "example": true, "examples": true,
		"default": true, "deprecated": true, "readOnly": true, "writeOnly": true, "$comment": true,
	}
)

// Validate checks a JSON value (decoded with numbers as json.Number, or
// plain Go values of the same kinds) against a schema of the description.
// The error names every place that does not fit.
func (s *Spec) Validate(schema, v any) error {
	var errs []string
	s.validate(schema, normalize(v), "$", &errs, 0)
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

// normalize turns float64 and ints into json.Number so that one code path
// handles numbers.
func normalize(v any) any {
	switch x := v.(type) {
	case float64:
		return json.Number(strconv.FormatFloat(x, 'f', -1, 64))
	case int:
		return json.Number(strconv.Itoa(x))
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

func (s *Spec) validate(schema, v any, at string, errs *[]string, depth int) {
	bad := func(format string, args ...any) { *errs = append(*errs, at+": "+fmt.Sprintf(format, args...)) }
	if depth > 64 {
		bad("schema nests too deep (a $ref cycle?)")
		return
	}
	switch sch := schema.(type) {
	case bool:
		if !sch {
			bad("no value is allowed here")
		}
		return
	case nil:
		return
	case map[string]any:
		if ref, ok := sch["$ref"].(string); ok {
			target, err := s.pointer(ref)
			if err != nil {
				bad("%v", err)
			} else {
				s.validate(target, v, at, errs, depth+1)
			}
		}
		if t, ok := sch["type"]; ok && !typeMatches(t, v) {
			bad("%s is not of type %v", kind(v), t)
			return
		}
		if enum, ok := sch["enum"].([]any); ok && !contains(enum, v) {
			bad("%s is not one of %s", show(v), show(enum))
		}
		if c, ok := sch["const"]; ok && !equal(c, v) {
			bad("%s is not %s", show(v), show(c))
		}
		for _, sub := range asList(sch["allOf"]) {
			s.validate(sub, v, at, errs, depth+1)
		}
		if one := asList(sch["oneOf"]); one != nil {
			n := 0
			for _, sub := range one {
				var e []string
				s.validate(sub, v, at, &e, depth+1)
				if len(e) == 0 {
					n++
				}
			}
			if n != 1 {
				bad("matches %d of the %d schemas of oneOf, not exactly one", n, len(one))
			}
		}
		switch x := v.(type) {
		case map[string]any:
			s.object(sch, x, at, errs, depth)
		case []any:
			if min, ok := number(sch["minItems"]); ok && float64(len(x)) < min {
				bad("%d items, fewer than %v", len(x), min)
			}
			if max, ok := number(sch["maxItems"]); ok && float64(len(x)) > max {
				bad("%d items, more than %v", len(x), max)
			}
			if items, ok := sch["items"]; ok {
				for i, e := range x {
					s.validate(items, e, at+"["+strconv.Itoa(i)+"]", errs, depth+1)
				}
			}
		case string:
			n := utf8.RuneCountInString(x)
			if min, ok := number(sch["minLength"]); ok && float64(n) < min {
				bad("%q is shorter than %v characters", x, min)
			}
			if max, ok := number(sch["maxLength"]); ok && float64(n) > max {
				bad("%d characters, more than %v", n, max)
			}
			if p, ok := sch["pattern"].(string); ok {
				re, err := compile(p)
				if err != nil {
					bad("pattern %q: %v", p, err)
				} else if !re.MatchString(x) {
					bad("%q does not match %s", x, p)
				}
			}
		case json.Number:
			f, _ := strconv.ParseFloat(string(x), 64)
			if min, ok := number(sch["minimum"]); ok && f < min {
				bad("%s is less than %v", x, min)
			}
			if max, ok := number(sch["maximum"]); ok && f > max {
				bad("%s is more than %v", x, max)
			}
		}
	default:
		bad("the schema is not an object or a boolean")
	}
}

func (s *Spec) object(sch, x map[string]any, at string, errs *[]string, depth int) {
	for _, r := range asList(sch["required"]) {
		name, _ := r.(string)
		if _, ok := x[name]; !ok {
			*errs = append(*errs, at+": the required property "+strconv.Quote(name)+" is missing")
		}
	}
	props, _ := sch["properties"].(map[string]any)
	names := make([]string, 0, len(x))
	for k := range x {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if sub, ok := props[k]; ok {
			s.saw(sch, k)
			s.validate(sub, x[k], at+"."+k, errs, depth+1)
			continue
		}
		if ap, ok := sch["additionalProperties"]; ok {
			if ap == false {
				*errs = append(*errs, at+": the property "+strconv.Quote(k)+" is not allowed")
				continue
			}
			s.validate(ap, x[k], at+"."+k, errs, depth+1)
		}
	}
}

func typeMatches(t, v any) bool {
	switch tt := t.(type) {
	case string:
		return is(tt, v)
	case []any:
		for _, e := range tt {
			if s, ok := e.(string); ok && is(s, v) {
				return true
			}
		}
	}
	return false
}

func is(t string, v any) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, _, err := big.ParseFloat(string(n), 10, 200, big.ToNearestEven)
		return err == nil && f.IsInt()
	}
	return false
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	case json.Number:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// equal compares JSON values; numbers by value.
func equal(a, b any) bool {
	a, b = normalize(a), normalize(b)
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		fx, _, e1 := big.ParseFloat(string(x), 10, 200, big.ToNearestEven)
		fy, _, e2 := big.ParseFloat(string(y), 10, 200, big.ToNearestEven)
		return e1 == nil && e2 == nil && fx.Cmp(fy) == 0
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, e := range x {
			if f, ok := y[k]; !ok || !equal(e, f) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func contains(list []any, v any) bool {
	for _, e := range list {
		if equal(e, v) {
			return true
		}
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int:
		return float64(n), true
	}
	return 0, false
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

var patterns sync.Map // pattern → *regexp.Regexp

// compile compiles an ECMA-262 pattern as RE2: the description keeps to
// the syntax both share (classes, anchors, quantifiers).
func compile(p string) (*regexp.Regexp, error) {
	if re, ok := patterns.Load(p); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	patterns.Store(p, re)
	return re, nil
}

// saw records that a value had the property name of schema sch.
func (s *Spec) saw(sch map[string]any, name string) {
	at, ok := s.where[identity(sch)]
	if !ok {
		return // a schema from outside the description
	}
	s.mu.Lock()
	s.seen[at+"/properties/"+escape(name)] = true
	s.mu.Unlock()
}

// escape makes a name a JSON pointer token.
func escape(name string) string {
	return strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
}

// ResponseProperties lists every property a response can hold, as JSON
// pointers to their schemas ("#/components/schemas/User/properties/uid"):
// of the schemas of every response's content and of the messages a
// response describes (x-events, x-websocket-messages), through $ref,
// allOf, oneOf and items.
func (s *Spec) ResponseProperties() []string {
	var roots []any
	walk(s.root, "#", func(m map[string]any, at string) {
		if strings.Contains(at, "/responses/") && !strings.Contains(at, "/schema") {
			if c, ok := m["content"].(map[string]any); ok {
				for _, media := range c {
					mm := asMap(media)
					roots = append(roots, mm["schema"])
					for _, sch := range asMap(mm["x-events"]) {
						roots = append(roots, sch)
					}
				}
			}
			for _, sch := range asMap(m["x-websocket-messages"]) {
				roots = append(roots, sch)
			}
		}
	})
	out := map[string]bool{}
	visited := map[string]bool{}
	var follow func(any)
	follow = func(sch any) {
		walkSchema(sch, "", func(m map[string]any, _ string) {
			if ref, ok := m["$ref"].(string); ok && !visited[ref] {
				visited[ref] = true
				if target, err := s.pointer(ref); err == nil {
					follow(target)
				}
			}
			at, ok := s.where[identity(m)]
			if !ok {
				return
			}
			for name := range asMap(m["properties"]) {
				out[at+"/properties/"+escape(name)] = true
			}
		})
	}
	for _, r := range roots {
		follow(r)
	}
	list := make([]string, 0, len(out))
	for p := range out {
		list = append(list, p)
	}
	sort.Strings(list)
	return list
}

// Seen reports whether Validate has met a value with the property a
// ResponseProperties pointer names.
func (s *Spec) Seen(property string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[property]
}
