package openapitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Spec is a loaded description.
type Spec struct {
	root map[string]any
	ops  []*Operation
	// byPattern holds the operations of each path pattern, with enum path
	// parameters expanded ("/v3/users/{uid}"), by method.
	byPattern map[string]map[string]*Operation
	// where names each object of the description by its JSON pointer.
	where map[uintptr]string

	mu   sync.Mutex
	seen map[string]bool // properties validated in a value, by pointer
}

// Operation is one operation of the description.
type Operation struct {
	spec   *Spec
	Method string // upper case
	Path   string // the path template as described: "/{version}/users/{uid}"
	ID     string // operationId
	// Patterns are the paths it describes: the template with each path
	// parameter whose schema is an enum expanded to every value, the
	// others kept as {name} ("/v3/users/{uid}", "/v3.0/users/{uid}").
	Patterns []string
	raw      map[string]any
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Load reads a description. Numbers stay json.Number, so integers are told
// from other numbers exactly.
func Load(b []byte) (*Spec, error) {
	root, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("the description is not JSON: %w", err)
	}
	m, ok := root.(map[string]any)
	if !ok {
		return nil, errors.New("the description is not a JSON object")
	}
	s := &Spec{root: m, byPattern: map[string]map[string]*Operation{}, where: map[uintptr]string{}, seen: map[string]bool{}}
	walk(m, "#", func(o map[string]any, at string) { s.where[identity(o)] = at })
	paths, _ := m["paths"].(map[string]any)
	templates := make([]string, 0, len(paths))
	for p := range paths {
		templates = append(templates, p)
	}
	sort.Strings(templates)
	for _, tmpl := range templates {
		item, ok := paths[tmpl].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("paths[%q] is not an object", tmpl)
		}
		for _, method := range methods {
			raw, ok := item[method].(map[string]any)
			if !ok {
				continue
			}
			op := &Operation{spec: s, Method: strings.ToUpper(method), Path: tmpl, raw: raw}
			op.ID, _ = raw["operationId"].(string)
			params, err := s.pathParams(item, raw)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", op.Method, tmpl, err)
			}
			if op.Patterns, err = expand(tmpl, params); err != nil {
				return nil, fmt.Errorf("%s %s: %w", op.Method, tmpl, err)
			}
			for _, p := range op.Patterns {
				if s.byPattern[p] == nil {
					s.byPattern[p] = map[string]*Operation{}
				}
				if prev := s.byPattern[p][op.Method]; prev != nil {
					return nil, fmt.Errorf("%s %s is described twice (%s and %s)", op.Method, p, prev.Path, tmpl)
				}
				s.byPattern[p][op.Method] = op
			}
			s.ops = append(s.ops, op)
		}
	}
	return s, nil
}

// pathParams are the path parameters of an operation by name: the path
// item's, overridden by the operation's.
func (s *Spec) pathParams(item, op map[string]any) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	for _, src := range []map[string]any{item, op} {
		list, _ := src["parameters"].([]any)
		for _, p := range list {
			pm, ok := s.Resolve(p).(map[string]any)
			if !ok {
				return nil, errors.New("a parameter is not an object")
			}
			if pm["in"] == "path" {
				name, _ := pm["name"].(string)
				out[name] = pm
			}
		}
	}
	return out, nil
}

// expand lists the paths a template stands for: each {name} whose
// parameter's schema is an enum takes each value in turn.
func expand(tmpl string, params map[string]map[string]any) ([]string, error) {
	out := []string{""}
	used := map[string]bool{}
	for _, seg := range strings.Split(tmpl, "/")[1:] {
		var alts []string
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			name := seg[1 : len(seg)-1]
			p, ok := params[name]
			if !ok {
				return nil, fmt.Errorf("{%s} has no path parameter", name)
			}
			used[name] = true
			schema, _ := p["schema"].(map[string]any)
			if enum, ok := schema["enum"].([]any); ok {
				for _, v := range enum {
					str, ok := v.(string)
					if !ok || str == "" || strings.Contains(str, "/") {
						return nil, fmt.Errorf("{%s}: enum value %v is not a path segment", name, v)
					}
					alts = append(alts, str)
				}
			} else {
				alts = []string{seg}
			}
		} else {
			alts = []string{seg}
		}
		var next []string
		for _, prefix := range out {
			for _, a := range alts {
				next = append(next, prefix+"/"+a)
			}
		}
		out = next
	}
	for name := range params {
		if !used[name] {
			return nil, fmt.Errorf("path parameter %q is not in the path", name)
		}
	}
	return out, nil
}

// Operations lists every operation, sorted by path template and method.
func (s *Spec) Operations() []*Operation { return s.ops }

// Routes maps "METHOD pattern" to its operation, for every pattern of
// every operation.
func (s *Spec) Routes() map[string]*Operation {
	out := map[string]*Operation{}
	for p, byMethod := range s.byPattern {
		for m, op := range byMethod {
			out[m+" "+p] = op
		}
	}
	return out
}

// Root is the description as decoded.
func (s *Spec) Root() map[string]any { return s.root }

// Find returns the operation that describes a request and the pattern it
// matched, "/v3/users/{uid}". As callgate's router does, the most specific
// pattern for the path (the fewest parameters) is chosen first, then the
// method: a method it does not describe is an error even when a less
// specific pattern has it.
func (s *Spec) Find(method, path string) (*Operation, string, error) {
	path, _, _ = strings.Cut(path, "?")
	segs := strings.Split(path, "/")
	best, bestWild := "", -1
	for p := range s.byPattern {
		ps := strings.Split(p, "/")
		if len(ps) != len(segs) {
			continue
		}
		wild, match := 0, true
		for i := range ps {
			switch {
			case strings.HasPrefix(ps[i], "{") && strings.HasSuffix(ps[i], "}"):
				if segs[i] == "" {
					match = false
				}
				wild++
			case ps[i] != segs[i]:
				match = false
			}
		}
		if match && (bestWild < 0 || wild < bestWild || wild == bestWild && p < best) {
			best, bestWild = p, wild
		}
	}
	if bestWild < 0 {
		return nil, "", fmt.Errorf("no path of the description matches %s", path)
	}
	op := s.byPattern[best][strings.ToUpper(method)]
	if op == nil {
		return nil, best, fmt.Errorf("%s %s: the description has no %s for %s", method, path, method, best)
	}
	return op, best, nil
}

// Resolve follows a {"$ref": "#/…"} (repeatedly); anything else is
// returned as it is, as is a reference that does not resolve (Lint
// reports those).
func (s *Spec) Resolve(v any) any {
	for range 32 {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v
		}
		target, err := s.pointer(ref)
		if err != nil {
			return v
		}
		v = target
	}
	return v
}

// pointer resolves a local JSON pointer, "#/components/schemas/User".
func (s *Spec) pointer(ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	var cur any = s.root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
	}
	return cur, nil
}

// Raw is the operation object as decoded.
func (o *Operation) Raw() map[string]any { return o.raw }

// String names the operation.
func (o *Operation) String() string { return o.Method + " " + o.Path + " (" + o.ID + ")" }

// Statuses lists the statuses the operation describes, in order.
func (o *Operation) Statuses() []int {
	resps, _ := o.raw["responses"].(map[string]any)
	var out []int
	for k := range resps {
		if n, err := strconv.Atoi(k); err == nil {
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out
}

// Response is the response object of a status (references followed), nil
// when the status is not described.
func (o *Operation) Response(status int) map[string]any {
	resps, _ := o.raw["responses"].(map[string]any)
	r, _ := o.spec.Resolve(resps[strconv.Itoa(status)]).(map[string]any)
	return r
}

// Security is the operation's security requirement: each alternative maps
// a scheme to its roles. nil when the operation sets none (Lint requires
// every operation to set one, [] included).
func (o *Operation) Security() []map[string][]string {
	list, ok := o.raw["security"].([]any)
	if !ok {
		return nil
	}
	out := []map[string][]string{}
	for _, alt := range list {
		m, _ := alt.(map[string]any)
		req := map[string][]string{}
		for scheme, roles := range m {
			rs := []string{}
			rl, _ := roles.([]any)
			for _, r := range rl {
				s, _ := r.(string)
				rs = append(rs, s)
			}
			req[scheme] = rs
		}
		out = append(out, req)
	}
	return out
}

// RequestRequired lists the properties the JSON request body's schema
// requires (at its top level).
func (o *Operation) RequestRequired() []string {
	rb, _ := o.spec.Resolve(o.raw["requestBody"]).(map[string]any)
	media := asMap(asMap(rb["content"])["application/json"])
	var out []string
	for _, r := range asList(asMap(o.spec.Resolve(media["schema"]))["required"]) {
		if name, ok := r.(string); ok {
			out = append(out, name)
		}
	}
	return out
}

// HasRequestBody reports whether the operation describes a request body.
func (o *Operation) HasRequestBody() bool { _, ok := o.raw["requestBody"]; return ok }

// Codes lists the error codes a status can answer: the values the
// response's JSON schema allows at error.code (the intersection of every
// enum or const met there, through $ref and allOf). nil when the response
// constrains no code.
func (o *Operation) Codes(status int) []string {
	r := o.Response(status)
	content, _ := r["content"].(map[string]any)
	mt, _ := content["application/json"].(map[string]any)
	if mt == nil {
		return nil
	}
	vals, ok := o.spec.allowedAt(mt["schema"], []string{"error", "code"})
	if !ok {
		return nil
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// allowedAt is the intersection of the enum and const constraints on the
// value at path (property names) below schema; ok is false when there is
// none.
func (s *Spec) allowedAt(schema any, path []string) (vals []any, ok bool) {
	m, _ := schema.(map[string]any)
	if m == nil {
		return nil, false
	}
	merge := func(more []any) {
		if !ok {
			vals, ok = more, true
			return
		}
		vals = slices.DeleteFunc(slices.Clone(vals), func(v any) bool {
			return !slices.ContainsFunc(more, func(w any) bool { return equal(v, w) })
		})
	}
	if ref, isRef := m["$ref"].(string); isRef {
		if target, err := s.pointer(ref); err == nil {
			if v, found := s.allowedAt(target, path); found {
				merge(v)
			}
		}
	}
	for _, sub := range asList(m["allOf"]) {
		if v, found := s.allowedAt(sub, path); found {
			merge(v)
		}
	}
	if len(path) == 0 {
		if e, isList := m["enum"].([]any); isList {
			merge(e)
		}
		if c, isConst := m["const"]; isConst {
			merge([]any{c})
		}
		return vals, ok
	}
	props, _ := m["properties"].(map[string]any)
	if sub, has := props[path[0]]; has {
		if v, found := s.allowedAt(sub, path[1:]); found {
			merge(v)
		}
	}
	return vals, ok
}

// Extension returns an x- extension of a status's response: on the
// response object or on one of its media types (x-events on
// text/event-stream, x-websocket-messages on a 101), as a map of names to
// schemas.
func (o *Operation) Extension(status int, name string) (map[string]any, bool) {
	r := o.Response(status)
	if m, ok := r[name].(map[string]any); ok {
		return m, true
	}
	content, _ := r["content"].(map[string]any)
	for _, mt := range content {
		if m, ok := mt.(map[string]any)[name].(map[string]any); ok {
			return m, true
		}
	}
	return nil, false
}

// Check holds an answer to the operation's description: the status must
// be described; the headers the response marks required must be there,
// and fit their schemas; a response without content must have an empty
// body; otherwise the Content-Type must be one the response lists and,
// for JSON, the body must validate against its schema. A nil body skips
// the body (a stream read elsewhere).
func (o *Operation) Check(status int, h http.Header, body []byte) error {
	r := o.Response(status)
	if r == nil {
		return fmt.Errorf("%s: status %d is not described (described: %v)", o, status, o.Statuses())
	}
	var errs []error
	hdrs, _ := r["headers"].(map[string]any)
	names := make([]string, 0, len(hdrs))
	for n := range hdrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		hd, _ := o.spec.Resolve(hdrs[name]).(map[string]any)
		val := h.Get(name)
		if val == "" {
			if hd["required"] == true {
				errs = append(errs, fmt.Errorf("header %s is required but missing", name))
			}
			continue
		}
		var v any = val
		if sch, _ := o.spec.Resolve(hd["schema"]).(map[string]any); sch["type"] == "integer" {
			v = json.Number(val)
			if _, err := strconv.ParseInt(val, 10, 64); err != nil {
				errs = append(errs, fmt.Errorf("header %s: %q is not an integer", name, val))
				continue
			}
		}
		if err := o.spec.Validate(hd["schema"], v); err != nil {
			errs = append(errs, fmt.Errorf("header %s: %w", name, err))
		}
	}
	content, hasContent := r["content"].(map[string]any)
	switch {
	case !hasContent:
		if len(body) > 0 {
			errs = append(errs, fmt.Errorf("the response describes no body, but %d bytes came", len(body)))
		}
	default:
		ct := h.Get("Content-Type")
		mt, _, err := mime.ParseMediaType(ct)
		media, _ := content[mt].(map[string]any)
		if err != nil || media == nil {
			errs = append(errs, fmt.Errorf("Content-Type %q is not one the response describes (%v)", ct, keys(content)))
			break
		}
		if body == nil || !isJSON(mt) {
			break
		}
		v, err := decode(body)
		if err != nil {
			errs = append(errs, fmt.Errorf("the body is not JSON: %v", err))
			break
		}
		if err := o.spec.Validate(media["schema"], v); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s, status %d: %w", o, status, errors.Join(errs...))
	}
	return nil
}

// CheckRequest holds a request body to the operation's request body
// schema (JSON only).
func (o *Operation) CheckRequest(body []byte) error {
	rb, _ := o.spec.Resolve(o.raw["requestBody"]).(map[string]any)
	if rb == nil {
		if len(body) > 0 {
			return fmt.Errorf("%s describes no request body, but one is sent", o)
		}
		return nil
	}
	content, _ := rb["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	if media == nil {
		return fmt.Errorf("%s: the request body is not described as application/json", o)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if rb["required"] == true {
			return fmt.Errorf("%s: the request body is required", o)
		}
		return nil
	}
	v, err := decode(body)
	if err != nil {
		return fmt.Errorf("%s: the request body is not JSON: %v", o, err)
	}
	if err := o.spec.Validate(media["schema"], v); err != nil {
		return fmt.Errorf("%s: request body: %w", o, err)
	}
	return nil
}

func isJSON(mediaType string) bool {
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}

// decode reads one JSON value, numbers as json.Number.
func decode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func asList(v any) []any { l, _ := v.([]any); return l }

// identity tells one decoded JSON object from another: the map itself,
// not its contents.
func identity(m map[string]any) uintptr { return reflect.ValueOf(m).Pointer() }
