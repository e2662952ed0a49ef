package server_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/openapi"
	"github.com/callgate/callgate/internal/openapi/openapitest"
	"github.com/callgate/callgate/internal/server"
	"github.com/callgate/callgate/internal/servertest"
	"github.com/callgate/callgate/internal/wire"
)

// The OpenAPI description (internal/openapi, served at GET /openapi.json)
// against the router and the error catalogue. Its answers are held to it
// in openapi_answers_test.go.

func loadSpec(t testing.TB) *openapitest.Spec {
	t.Helper()
	spec, err := openapitest.Load(openapi.JSON())
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// servedRoute is one method and path the server answers, as the
// description names it: an API route under each version prefix, an ops
// or root route once; an ops GET also answers HEAD, and every path that
// is not ops answers a preflight (OPTIONS).
type servedRoute struct {
	key   string // "GET /v3/users/{uid}"
	route server.Route
	kind  string // "route", "head" or "preflight"
}

func servedRoutes() []servedRoute {
	var out []servedRoute
	seen := map[string]bool{}
	add := func(key string, rt server.Route, kind string) {
		if !seen[key] {
			seen[key] = true
			out = append(out, servedRoute{key, rt, kind})
		}
	}
	for _, rt := range server.Routes() {
		prefixes := versions
		if rt.Ops || rt.Root {
			prefixes = []string{""}
		}
		for _, v := range prefixes {
			add(rt.Method+" "+v+rt.Path, rt, "route")
			if rt.Ops && rt.Method == http.MethodGet {
				add("HEAD "+v+rt.Path, rt, "head")
			}
			if !rt.Ops {
				add("OPTIONS "+v+rt.Path, rt, "preflight")
			}
		}
	}
	return out
}

// TestOpenAPIRoutes holds the description to the router: every route the
// router serves is described, under both prefixes for API routes, and the
// description names no route the router does not serve. Each operation's
// credentials and error answers follow from the route: the security
// requirement of its kind of credential, the credential errors, 400 for a
// body, and only codes of the catalogue, each under its own status.
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	spec := loadSpec(t)
	described := spec.Routes()
	served := servedRoutes()
	servedKeys := map[string]bool{}
	for _, sr := range served {
		servedKeys[sr.key] = true
		if described[sr.key] == nil {
			t.Errorf("%s is served but not described in internal/openapi/openapi.json", sr.key)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(described)) {
		if !servedKeys[k] {
			t.Errorf("%s is described (%s) but the router does not serve it", k, described[k].ID)
		}
	}
	if len(served) < 100 {
		t.Fatalf("only %d routes served", len(served))
	}

	keyCreds := []string{"AUTH_ERR_EMPTY_APPID", "AUTH_ERR_INVALID_APPID", "AUTH_ERR_EMPTY_APIKEY", "AUTH_ERR_APIKEY_NOT_FOUND"}
	tokenCreds := []string{"AUTH_ERR_EMPTY_AUTH_TOKEN", "AUTH_ERR_AUTH_TOKEN_NOT_FOUND", "AUTH_ERR_INVALID_APPID"}
	for _, sr := range served {
		op := described[sr.key]
		if op == nil {
			continue
		}
		rt := sr.route
		// want lists codes the operation must answer, by status.
		want := map[int][]string{}
		sec := op.Security()
		switch {
		case sr.kind != "route" || rt.Ops:
			if len(sec) != 0 {
				t.Errorf("%s: takes no credentials, but its security is %v", sr.key, sec)
			}
		case rt.Auth == "fullKey":
			wantSecurity(t, sr.key, sec, []map[string][]string{{"appId": {}, "apiKey": {"fullAccess"}}})
			want[401], want[403], want[429] = keyCreds, []string{"AUTH_ERR_NO_ACCESS", "ERR_ORIGIN_NOT_ALLOWED"}, []string{"ERR_TOO_MANY_REQUESTS"}
		case rt.Auth == "anyKey":
			wantSecurity(t, sr.key, sec, []map[string][]string{{"appId": {}, "apiKey": {}}})
			want[401], want[403], want[429] = keyCreds, []string{"ERR_ORIGIN_NOT_ALLOWED"}, []string{"ERR_TOO_MANY_REQUESTS"}
			if slices.Contains(op.Codes(403), "AUTH_ERR_NO_ACCESS") {
				t.Errorf("%s: any key will do, yet it lists AUTH_ERR_NO_ACCESS", sr.key)
			}
		case rt.Auth == "token":
			wantSecurity(t, sr.key, sec, []map[string][]string{{"authToken": {}}, {"appId": {}, "authToken": {}}})
			want[401], want[403], want[429] = tokenCreds, []string{"ERR_ORIGIN_NOT_ALLOWED"}, []string{"ERR_TOO_MANY_REQUESTS"}
		default: // an API route that checks its own credential
			if len(sec) == 0 {
				t.Errorf("%s: checks its own credential, but its security requirement is empty", sr.key)
			}
			for _, alt := range sec {
				if _, ok := alt["apiKey"]; ok {
					t.Errorf("%s: checks its own credential, which is not an API key: %v", sr.key, sec)
				}
			}
			want[403] = []string{"ERR_ORIGIN_NOT_ALLOWED"}
		}
		switch sr.kind {
		case "route":
			if !rt.Ops && !rt.Root {
				wantParam(t, sr.key, op, "version")
			}
			if rt.TakesBody {
				want[400] = []string{"ERR_BAD_REQUEST"}
			}
			if rt.TakesBody != op.HasRequestBody() {
				t.Errorf("%s: the router says it takes a body: %v; the description: %v", sr.key, rt.TakesBody, op.HasRequestBody())
			}
			want[413] = []string{"ERR_PAYLOAD_TOO_LARGE"}
			want[500] = []string{"ERR_INTERNAL"}
			if !rt.Ops {
				want[503] = []string{"ERR_SERVICE_UNAVAILABLE"}
			}
		case "head":
			if op.HasRequestBody() {
				t.Errorf("%s: HEAD takes no body", sr.key)
			}
			get := described["GET "+strings.TrimPrefix(sr.key, "HEAD ")]
			if get != nil && !slices.Equal(get.Statuses(), op.Statuses()) {
				t.Errorf("%s answers %v, its GET %v: HEAD answers as GET does", sr.key, op.Statuses(), get.Statuses())
			}
		case "preflight":
			if op.Response(http.StatusNoContent) == nil {
				t.Errorf("%s: a preflight answers 204", sr.key)
			}
			want[404] = []string{"ERR_ENDPOINT_NOT_FOUND"}
		}
		for status, codes := range want {
			got := op.Codes(status)
			for _, c := range codes {
				if !slices.Contains(got, c) {
					t.Errorf("%s: its %d answer does not list %s (it lists %v)", sr.key, status, c, got)
				}
			}
		}
	}

	// Every code listed is in the catalogue, under the catalogue's status;
	// and every code of the catalogue is answered somewhere.
	status := map[string]int{}
	for _, e := range apierr.Catalogue {
		status[string(e.Code)] = e.Status
	}
	listed := map[string]bool{}
	for _, op := range spec.Operations() {
		for _, st := range op.Statuses() {
			for _, c := range op.Codes(st) {
				listed[c] = true
				switch s, ok := status[c]; {
				case !ok:
					t.Errorf("%s lists %s under %d: not a code of the catalogue (internal/apierr)", op, c, st)
				case s != st:
					t.Errorf("%s lists %s under %d: the catalogue answers it with %d", op, c, st, s)
				}
			}
			if st >= 400 && op.Response(st)["content"] != nil && len(op.Codes(st)) == 0 {
				t.Errorf("%s: the %d answer lists no code", op, st)
			}
		}
	}
	for _, e := range apierr.Catalogue {
		if !listed[string(e.Code)] {
			t.Errorf("%s is in the catalogue but no operation of the description answers it", e.Code)
		}
	}
}

func wantSecurity(t *testing.T, key string, got, want []map[string][]string) {
	t.Helper()
	norm := func(reqs []map[string][]string) []string {
		var out []string
		for _, r := range reqs {
			var parts []string
			for scheme, roles := range r {
				parts = append(parts, scheme+"["+strings.Join(roles, ",")+"]")
			}
			sort.Strings(parts)
			out = append(out, strings.Join(parts, "+"))
		}
		sort.Strings(out)
		return out
	}
	if g, w := norm(got), norm(want); !slices.Equal(g, w) {
		t.Errorf("%s: security %v, want %v", key, g, w)
	}
}

// wantParam asserts an operation (or its path) has a path parameter.
func wantParam(t *testing.T, key string, op *openapitest.Operation, name string) {
	t.Helper()
	if !strings.Contains(op.Path, "{"+name+"}") {
		t.Errorf("%s: the path %s has no {%s}", key, op.Path, name)
	}
}

// GET /openapi.json serves the embedded description byte for byte (the
// docs' copy is held to it in internal/openapi), to any origin, gzipped
// for clients that take it, with an ETag.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := start(t, servertest.Options{NoRealtime: true})
	r := e.do("GET", "/openapi.json", nil, nil)
	if r.Status != http.StatusOK || !bytes.Equal(r.Raw, openapi.JSON()) {
		t.Fatalf("GET /openapi.json: %d, %d bytes, not the embedded description", r.Status, len(r.Raw))
	}
	h := r.Header
	if h.Get("Content-Type") != "application/json" || h.Get("Access-Control-Allow-Origin") != "*" ||
		h.Get("Cache-Control") != "public, no-cache" || h.Get("ETag") == "" {
		t.Errorf("headers %v", h)
	}
	if r := e.do("GET", "/openapi.json", H{"If-None-Match": h.Get("ETag")}, nil); r.Status != http.StatusNotModified || len(r.Raw) != 0 {
		t.Errorf("revalidation: %d, %d bytes", r.Status, len(r.Raw))
	}
	// A client that asks for gzip gets it, and a tenth of the bytes.
	req, _ := http.NewRequest("GET", e.srv.URL+"/openapi.json", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatalf("Content-Encoding %q: %v", res.Header.Get("Content-Encoding"), err)
	}
	body, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(body, openapi.JSON()) {
		t.Errorf("gzipped: %v, %d bytes", err, len(body))
	}
	if n, _ := strconv.Atoi(res.Header.Get("Content-Length")); n == 0 || n > len(body)/5 {
		t.Errorf("gzipped to %d of %d bytes", n, len(body))
	}
	if r := e.do("HEAD", "/openapi.json", nil, nil); r.Status != http.StatusOK || len(r.Raw) != 0 {
		t.Errorf("HEAD: %d, %d bytes", r.Status, len(r.Raw))
	}
}

// The audited actions the description lists — the filter of GET
// /audit_events and an event's action — are the server's: a new action
// would otherwise be answered, and refused as a filter, undescribed.
func TestOpenAPIAuditActions(t *testing.T) {
	t.Parallel()
	spec := loadSpec(t)
	root := spec.Root()
	comps, _ := root["components"].(map[string]any)
	at := func(v any, keys ...string) any {
		for _, k := range keys {
			m, _ := spec.Resolve(v).(map[string]any)
			v = m[k]
		}
		return spec.Resolve(v)
	}
	for where, enum := range map[string]any{
		"the action parameter":        at(comps, "parameters", "action", "schema", "enum"),
		"the action of an AuditEvent": at(comps, "schemas", "AuditEvent", "properties", "action", "enum"),
	} {
		list, _ := enum.([]any)
		var got []string
		for _, a := range list {
			s, _ := a.(string)
			got = append(got, s)
		}
		if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(wire.AuditActions))) {
			t.Errorf("%s lists %v, the server %v", where, got, wire.AuditActions)
		}
	}
}
