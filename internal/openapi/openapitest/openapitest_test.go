package openapitest_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/callgate/callgate/internal/openapi/openapitest"
)

// A small description with what callgate's uses: an enum path parameter,
// path templating, an envelope closed to other properties, an error
// response refined with allOf, a nullable field, oneOf and a stream.
const small = `{
  "openapi": "3.1.0",
  "paths": {
    "/{version}/things/{id}": {
      "parameters": [
        {"name": "version", "in": "path", "required": true, "schema": {"type": "string", "enum": ["v1", "v1.0"]}},
        {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}, "example": "t1"}
      ],
      "get": {
        "operationId": "getThing",
        "security": [],
        "responses": {
          "200": {
            "description": "ok",
            "headers": {"X-Request-Id": {"required": true, "schema": {"type": "string"}}},
            "content": {"application/json": {
              "schema": {"type": "object", "required": ["data"], "additionalProperties": false,
                         "properties": {"data": {"$ref": "#/components/schemas/Thing"}}},
              "example": {"data": {"id": "t1", "size": 3, "tags": ["a"], "parent": null}}
            }}
          },
          "404": {
            "description": "not found",
            "content": {"application/json": {"schema": {"allOf": [
              {"$ref": "#/components/schemas/Error"},
              {"properties": {"error": {"properties": {"code": {"enum": ["NOT_FOUND"]}}}}}
            ]}}}
          }
        }
      },
      "put": {
        "operationId": "putThing",
        "security": [{"key": []}],
        "requestBody": {"required": true, "content": {"application/json": {
          "schema": {"type": "object", "additionalProperties": true, "required": ["size"],
                     "properties": {"size": {"type": "integer", "minimum": 1}}},
          "example": {"size": 2}
        }}},
        "responses": {"204": {"description": "done"}}
      }
    },
    "/{version}/things/special": {
      "parameters": [{"name": "version", "in": "path", "required": true, "schema": {"type": "string", "enum": ["v1", "v1.0"]}}],
      "post": {"operationId": "special", "security": [], "responses": {"200": {"description": "ok",
        "content": {"text/event-stream": {"schema": {"type": "string"},
          "x-events": {"tick": {"type": "object", "additionalProperties": false, "properties": {"n": {"type": "integer"}}}}}}}}}
    },
    "/files/{name}": {
      "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string", "enum": ["a.js", "b.css"]}}],
      "get": {"operationId": "file", "security": [], "responses": {"200": {"description": "ok",
        "content": {"text/javascript": {"schema": {"type": "string"}}, "text/css": {"schema": {"type": "string"}}}}}}
    }
  },
  "components": {"schemas": {
    "Thing": {"type": "object", "required": ["id", "size"], "additionalProperties": false, "properties": {
      "id": {"type": "string", "pattern": "^t[0-9]+$"},
      "size": {"type": "integer", "minimum": 0, "maximum": 10},
      "tags": {"type": "array", "maxItems": 2, "items": {"type": "string", "minLength": 1}},
      "parent": {"type": ["string", "null"]},
      "kind": {"oneOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "integer"}]},
      "extra": {"type": "object", "additionalProperties": true}
    }},
    "Error": {"type": "object", "required": ["error"], "additionalProperties": false, "properties": {
      "error": {"type": "object", "required": ["code", "message"], "additionalProperties": false, "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"}
      }}
    }}
  }}
}`

func load(t *testing.T, doc string) *openapitest.Spec {
	t.Helper()
	s, err := openapitest.Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoutesAndFind(t *testing.T) {
	s := load(t, small)
	var got []string
	for k := range s.Routes() {
		got = append(got, k)
	}
	slices.Sort(got)
	want := []string{
		"GET /files/a.js", "GET /files/b.css",
		"GET /v1.0/things/{id}", "GET /v1/things/{id}",
		"POST /v1.0/things/special", "POST /v1/things/special",
		"PUT /v1.0/things/{id}", "PUT /v1/things/{id}",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("routes\n got %q\nwant %q", got, want)
	}
	op, pattern, err := s.Find("GET", "/v1.0/things/t7?x=1")
	if err != nil || op.ID != "getThing" || pattern != "/v1.0/things/{id}" {
		t.Fatalf("find: %v %q %v", op, pattern, err)
	}
	// The most specific path first, then the method, as the router does.
	if op, _, err := s.Find("GET", "/v1/things/special"); err == nil {
		t.Errorf("GET of a path that only has POST found %v", op)
	}
	for _, p := range []string{"/v2/things/t1", "/v1/things/", "/files/c.js", "/v1/things/t1/more"} {
		if op, _, err := s.Find("GET", p); err == nil {
			t.Errorf("%s found %v", p, op)
		}
	}
}

func TestCheck(t *testing.T) {
	s := load(t, small)
	op, _, _ := s.Find("GET", "/v1/things/t1")
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "X-Request-Id": {"r1"}}
	ok := `{"data":{"id":"t1","size":3,"tags":["a","b"],"parent":null,"kind":"a","extra":{"any":[1]}}}`
	if err := op.Check(200, h, []byte(ok)); err != nil {
		t.Fatalf("a fitting answer: %v", err)
	}
	bad := map[string]string{
		"a field the schema does not allow": `{"data":{"id":"t1","size":3,"secret":"x"}}`,
		"a required field missing":          `{"data":{"id":"t1"}}`,
		"a field beside data":               `{"data":{"id":"t1","size":3},"meta":{}}`,
		"a wrong type":                      `{"data":{"id":"t1","size":"3"}}`,
		"not an integer":                    `{"data":{"id":"t1","size":3.5}}`,
		"over the maximum":                  `{"data":{"id":"t1","size":11}}`,
		"not matching the pattern":          `{"data":{"id":"x1","size":3}}`,
		"too many items":                    `{"data":{"id":"t1","size":3,"tags":["a","b","c"]}}`,
		"an empty item":                     `{"data":{"id":"t1","size":3,"tags":[""]}}`,
		"null where not allowed":            `{"data":{"id":"t1","size":3,"tags":null}}`,
		"oneOf matching none":               `{"data":{"id":"t1","size":3,"kind":"c"}}`,
		"not JSON":                          `{"data":`,
		"two values":                        `{"data":{"id":"t1","size":3}} {}`,
	}
	for what, body := range bad {
		if err := op.Check(200, h, []byte(body)); err == nil {
			t.Errorf("%s: passed", what)
		}
	}
	if err := op.Check(200, http.Header{"Content-Type": {"application/json"}}, []byte(ok)); err == nil || !strings.Contains(err.Error(), "X-Request-Id") {
		t.Errorf("a missing required header: %v", err)
	}
	if err := op.Check(200, http.Header{"Content-Type": {"text/plain"}, "X-Request-Id": {"r"}}, []byte(ok)); err == nil {
		t.Error("a Content-Type the response does not describe passed")
	}
	if err := op.Check(500, h, []byte(ok)); err == nil {
		t.Error("a status the operation does not describe passed")
	}
	// Errors: the codes listed, and the envelope closed.
	if err := op.Check(404, h, []byte(`{"error":{"code":"NOT_FOUND","message":"m"}}`)); err != nil {
		t.Errorf("a listed code: %v", err)
	}
	for _, body := range []string{
		`{"error":{"code":"BAD","message":"m"}}`,
		`{"error":{"code":1,"message":"m"}}`,
		`{"error":{"code":"NOT_FOUND","message":"m","stack":"…"}}`,
		`{"error":{"code":"NOT_FOUND"}}`,
	} {
		if err := op.Check(404, h, []byte(body)); err == nil {
			t.Errorf("%s passed", body)
		}
	}
	if got := op.Codes(404); !slices.Equal(got, []string{"NOT_FOUND"}) {
		t.Errorf("codes %q", got)
	}
	// A response without content must have no body.
	put, _, _ := s.Find("PUT", "/v1/things/t1")
	if err := put.Check(204, http.Header{}, nil); err != nil {
		t.Errorf("204: %v", err)
	}
	if err := put.Check(204, http.Header{}, []byte("{}")); err == nil {
		t.Error("a body on a response without content passed")
	}
	if got := put.RequestRequired(); !slices.Equal(got, []string{"size"}) {
		t.Errorf("required %q", got)
	}
	if err := put.CheckRequest([]byte(`{"size":2,"unknown":true}`)); err != nil {
		t.Errorf("a request with an unknown field: %v", err)
	}
	for _, body := range []string{`{"size":0}`, `{}`, ``} {
		if err := put.CheckRequest([]byte(body)); err == nil {
			t.Errorf("request %q passed", body)
		}
	}
	// Other media types: only the type is checked; streams name their events.
	file, _, _ := s.Find("GET", "/files/b.css")
	if err := file.Check(200, http.Header{"Content-Type": {"text/css; charset=utf-8"}}, []byte("a{}")); err != nil {
		t.Errorf("css: %v", err)
	}
	sp, _, _ := s.Find("POST", "/v1/things/special")
	ev, found := sp.Extension(200, "x-events")
	if !found || s.Validate(ev["tick"], map[string]any{"n": 1}) != nil || s.Validate(ev["tick"], map[string]any{"m": 1}) == nil {
		t.Errorf("x-events: %v %v", ev, found)
	}
}

// The properties answers had, against those the description names.
func TestSeen(t *testing.T) {
	s := load(t, small)
	props := s.ResponseProperties()
	for _, want := range []string{
		"#/components/schemas/Thing/properties/parent",
		"#/components/schemas/Error/properties/error",
		"#/paths/~1{version}~1things~1special/post/responses/200/content/text~1event-stream/x-events/tick/properties/n",
	} {
		if !slices.Contains(props, want) {
			t.Errorf("%s is not listed: %q", want, props)
		}
	}
	op, _, _ := s.Find("GET", "/v1/things/t1")
	h := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r"}}
	if err := op.Check(200, h, []byte(`{"data":{"id":"t1","size":1,"tags":[]}}`)); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"#/components/schemas/Thing/properties/tags":   true,
		"#/components/schemas/Thing/properties/parent": false,
	} {
		if s.Seen(p) != want {
			t.Errorf("seen %s: %v", p, !want)
		}
	}
}

func TestLint(t *testing.T) {
	if errs := load(t, small).Lint(); len(errs) > 0 {
		t.Fatalf("the small description: %v", errs)
	}
	broken := map[string][2]string{
		"an open response object": {`"Thing": {"type": "object", "required": ["id", "size"], "additionalProperties": false,`,
			`"Thing": {"type": "object", "required": ["id", "size"],`},
		"an unchecked keyword":         {`"minLength": 1}`, `"minLength": 1, "uniqueItems": true}`},
		"a dangling $ref":              {`"$ref": "#/components/schemas/Thing"`, `"$ref": "#/components/schemas/Thingy"`},
		"an example that does not fit": {`"example": {"size": 2}`, `"example": {"size": "2"}`},
		"a parameter example":          {`"example": "t1"`, `"example": 1`},
		"no security":                  {`"operationId": "special", "security": [],`, `"operationId": "special",`},
		"a duplicate operationId":      {`"operationId": "file"`, `"operationId": "special"`},
		"an error without codes": {`{"properties": {"error": {"properties": {"code": {"enum": ["NOT_FOUND"]}}}}}`,
			`{"properties": {"error": {"properties": {"message": {"type": "string"}}}}}`},
		"an unused component": {`"components": {"schemas": {`, `"components": {"schemas": {"Unused": {"type": "string"},`},
		"a structured stream": {`"text/event-stream": {"schema": {"type": "string"}`, `"text/event-stream": {"schema": {"type": "object", "additionalProperties": false}`},
	}
	for what, edit := range broken {
		if !strings.Contains(small, edit[0]) {
			t.Fatalf("%s: the edit does not apply", what)
		}
		doc := strings.Replace(small, edit[0], edit[1], 1)
		s, err := openapitest.Load([]byte(doc))
		if err != nil {
			t.Errorf("%s: %v", what, err)
			continue
		}
		if errs := s.Lint(); len(errs) == 0 {
			t.Errorf("%s: Lint passed", what)
		}
	}
	// A template whose parameter is not described does not load.
	if _, err := openapitest.Load([]byte(strings.Replace(small, `"/files/{name}"`, `"/files/{other}"`, 1))); err == nil {
		t.Error("a path parameter that is not described loaded")
	}
}
