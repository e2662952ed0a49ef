package openapitest

import (
	"fmt"
	"mime"
	"sort"
	"strconv"
	"strings"
)

// Lint checks the description against itself, so that what the tests
// validate with it means what it says:
//
//   - every $ref resolves, every component is used, every operation has a unique operationId,
//     responses and an explicit security requirement ([] for none);
//   - every schema keeps to the keywords Validate checks (annotations such
//     as description, format and example aside);
//   - every object schema a response can hold says whether other
//     properties are allowed (additionalProperties), so that a handler that
//     answers a field the description does not know is caught;
//   - every JSON error response lists the codes it can answer (an enum at
//     error.code), and every other media type is described as a plain
//     string, not as a structure nothing checks;
//   - every example fits its schema.
func (s *Spec) Lint() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	used := map[string]bool{}
	walk(s.root, "#", func(v map[string]any, at string) {
		if ref, ok := v["$ref"].(string); ok {
			used[ref] = true
			if _, err := s.pointer(ref); err != nil {
				bad("%s: %v", at, err)
			}
		}
	})
	for _, kind := range []string{"schemas", "responses", "parameters", "headers"} {
		for name := range asMap(asMap(s.root["components"])[kind]) {
			if ref := "#/components/" + kind + "/" + escape(name); !used[ref] {
				bad("%s is never used", ref)
			}
		}
	}

	ids := map[string]string{}
	for _, op := range s.ops {
		switch {
		case op.ID == "":
			bad("%s: no operationId", op)
		case ids[op.ID] != "":
			bad("%s: operationId %s is also %s", op, op.ID, ids[op.ID])
		}
		ids[op.ID] = op.Method + " " + op.Path
		if _, ok := op.raw["security"].([]any); !ok {
			bad("%s: no security requirement (say [] for none)", op)
		}
		if len(op.Statuses()) == 0 {
			bad("%s: no responses", op)
		}
		for _, st := range op.Statuses() {
			content := asMap(op.Response(st)["content"])
			if _, isJSON := content["application/json"]; st >= 400 && isJSON && len(op.Codes(st)) == 0 {
				bad("%s: the %d answer must list its error codes (an enum at error.code)", op, st)
			}
		}
	}

	// Every schema, by where it is.
	schemas := map[string]any{}
	comps, _ := s.root["components"].(map[string]any)
	for kind, group := range comps {
		g, _ := group.(map[string]any)
		for name, v := range g {
			at := "#/components/" + kind + "/" + name
			switch kind {
			case "schemas":
				schemas[at] = v
			case "parameters", "headers":
				if m, ok := v.(map[string]any); ok && m["schema"] != nil {
					schemas[at+"/schema"] = m["schema"]
				}
			}
		}
	}
	responses := map[string]any{} // response objects, by where they are
	for name, r := range asMap(comps["responses"]) {
		responses["#/components/responses/"+name] = r
	}
	for _, op := range s.ops {
		at := op.Method + " " + op.Path
		for _, p := range asList(op.raw["parameters"]) {
			if m := asMap(p); m["schema"] != nil {
				schemas[at+" parameter "+fmt.Sprint(m["name"])] = m["schema"]
			}
		}
		if rb := asMap(op.raw["requestBody"]); rb != nil {
			for mt, media := range asMap(rb["content"]) {
				schemas[at+" request "+mt] = asMap(media)["schema"]
				if ex, ok := asMap(media)["example"]; ok {
					if err := s.Validate(asMap(media)["schema"], ex); err != nil {
						bad("%s: the request example does not fit: %v", at, err)
					}
				}
			}
		}
		for st, r := range asMap(op.raw["responses"]) {
			responses[at+" "+st] = r
		}
	}
	for _, item := range asMap(s.root["paths"]) {
		for _, p := range asList(asMap(item)["parameters"]) {
			if m := asMap(p); m["schema"] != nil {
				schemas["path parameter "+fmt.Sprint(m["name"])] = m["schema"]
			}
		}
	}
	var responseSchemas []string // where a response's body (or a message of it) is described
	for at, r := range responses {
		rm := asMap(r)
		if _, isRef := rm["$ref"]; isRef {
			continue
		}
		for name, h := range asMap(rm["headers"]) {
			if hm := asMap(h); hm["schema"] != nil {
				schemas[at+" header "+name] = hm["schema"]
			}
		}
		for _, ext := range []string{"x-websocket-messages"} {
			for name, sch := range asMap(rm[ext]) {
				schemas[at+" "+ext+" "+name] = sch
				responseSchemas = append(responseSchemas, at+" "+ext+" "+name)
			}
		}
		for mt, media := range asMap(rm["content"]) {
			mm := asMap(media)
			key := at + " " + mt
			schemas[key] = mm["schema"]
			responseSchemas = append(responseSchemas, key)
			for name, sch := range asMap(mm["x-events"]) {
				schemas[key+" x-events "+name] = sch
				responseSchemas = append(responseSchemas, key+" x-events "+name)
			}
			if base, _, err := mime.ParseMediaType(mt); err != nil {
				bad("%s: media type %q: %v", at, mt, err)
			} else if sm := asMap(mm["schema"]); !isJSON(base) && (len(sm) != 1 || sm["type"] != "string") {
				bad("%s: %s is not JSON, so its schema must be {\"type\": \"string\"} (nothing checks more)", at, mt)
			}
			if ex, ok := mm["example"]; ok {
				if err := s.Validate(mm["schema"], ex); err != nil {
					bad("%s: the %s example does not fit: %v", at, mt, err)
				}
			}
		}
	}

	// Parameter examples.
	walk(s.root, "#", func(v map[string]any, at string) {
		if _, isParam := v["in"].(string); isParam && v["schema"] != nil {
			if ex, ok := v["example"]; ok {
				if err := s.Validate(v["schema"], ex); err != nil {
					bad("%s: the example does not fit: %v", at, err)
				}
			}
		}
	})

	keys := make([]string, 0, len(schemas))
	for k := range schemas {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, at := range keys {
		walkSchema(schemas[at], at, func(sch map[string]any, where string) {
			for k := range sch {
				if !assertions[k] && !annotations[k] && !strings.HasPrefix(k, "x-") {
					bad("%s: keyword %q is not one the validator checks", where, k)
				}
			}
		})
	}
	sort.Strings(responseSchemas)
	for _, at := range responseSchemas {
		seen := map[string]bool{}
		var follow func(sch any, where string)
		follow = func(sch any, where string) {
			walkSchema(sch, where, func(m map[string]any, w string) {
				if ref, ok := m["$ref"].(string); ok && !seen[ref] {
					seen[ref] = true
					if target, err := s.pointer(ref); err == nil {
						follow(target, ref)
					}
				}
				if typeMatches(m["type"], map[string]any{}) {
					if _, ok := m["additionalProperties"]; !ok {
						bad("%s (in %s): an object in a response must say whether other properties are allowed (additionalProperties)", w, at)
					}
				}
			})
		}
		follow(schemas[at], at)
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs
}

// walk visits every object in v.
func walk(v any, at string, fn func(map[string]any, string)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x, at)
		for k, e := range x {
			walk(e, at+"/"+escape(k), fn)
		}
	case []any:
		for i, e := range x {
			walk(e, at+"/"+strconv.Itoa(i), fn)
		}
	}
}

// walkSchema visits a schema and its subschemas (not following $ref).
func walkSchema(v any, at string, fn func(map[string]any, string)) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	fn(m, at)
	for name, sub := range asMap(m["properties"]) {
		walkSchema(sub, at+"/properties/"+name, fn)
	}
	walkSchema(m["items"], at+"/items", fn)
	walkSchema(m["additionalProperties"], at+"/additionalProperties", fn)
	for _, kw := range []string{"allOf", "oneOf"} {
		for i, sub := range asList(m[kw]) {
			walkSchema(sub, at+"/"+kw+"/"+strconv.Itoa(i), fn)
		}
	}
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
