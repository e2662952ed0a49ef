package server

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/store"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 1 << 20

type envelope struct {
	Data any   `json:"data"`
	Meta *meta `json:"meta,omitempty"`
}

type meta struct {
	Pagination pagination `json:"pagination"`
}

type pagination struct {
	Total       int `json:"total"`
	Count       int `json:"count"`
	PerPage     int `json:"per_page"`
	CurrentPage int `json:"current_page"`
	TotalPages  int `json:"total_pages"`
}

type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code       apierr.Code    `json:"code"`
	Message    string         `json:"message"`
	DevMessage string         `json:"devMessage"`
	Source     string         `json:"source"`
	Details    map[string]any `json:"details"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own response types reach here; a failure is a bug.
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"ERR_INTERNAL","message":"Something went wrong on the server.","devMessage":"","source":"callgate","details":{}}}`)
	}
	writeBody(w, status, append(b, '\n'))
}

var contentTypeJSON = []string{"application/json; charset=utf-8"}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	// Canonical keys set directly: Header.Set would canonicalise per call.
	h["Content-Type"] = contentTypeJSON
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	w.Write(b)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeData writes {"data": v}; hot-path types append themselves.
func writeData(w http.ResponseWriter, v any) {
	a, ok := v.(jsonAppender)
	if !ok {
		writeJSON(w, http.StatusOK, envelope{Data: v})
		return
	}
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], `{"data":`...)
	b = append(a.appendJSON(b), '}', '\n')
	writeBody(w, http.StatusOK, b)
	*bp = b
	bufPool.Put(bp)
}

// writeAll writes every item, through view, as a single page (lists that
// are never paginated: API keys, a user's tokens, signing keys).
func writeAll[T, J any](w http.ResponseWriter, items []T, view func(T) J) {
	out := make([]J, len(items))
	for i, it := range items {
		out[i] = view(it)
	}
	writeList(w, out, len(out), max(len(out), 1), 1)
}

func writeList[T any](w http.ResponseWriter, items []T, total, perPage, page int) {
	if items == nil {
		items = []T{}
	}
	pages := 0
	if perPage > 0 {
		pages = (total + perPage - 1) / perPage
	}
	writeJSON(w, http.StatusOK, envelope{Data: items, Meta: &meta{Pagination: pagination{
		Total: total, Count: len(items), PerPage: perPage, CurrentPage: page, TotalPages: pages,
	}}})
}

// errorFor is the one mapping from any error onto the catalogue: an
// *apierr.Error stays as it is, store.ErrUnavailable becomes 503 with
// Retry-After (docs/design.md "Wire format: the decisions"), anything else
// 500. It lives here rather than in apierr, which imports nothing of
// callgate's, the store included.
func errorFor(err error) *apierr.Error {
	var e *apierr.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrUnavailable):
		return apierr.New(apierr.ServiceUnavailable).SetHeader("Retry-After", "1").Wrap(err)
	default:
		return apierr.New(apierr.Internal).Wrap(err)
	}
}

// writeError is the one place error JSON is written.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) *apierr.Error {
	e := errorFor(err)
	if e.Status() >= 500 {
		log.ErrorContext(r.Context(), "request failed", "code", e.Code, "err", e.Cause)
	}
	for k, v := range e.Header {
		w.Header().Set(k, v)
	}
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}
	writeJSON(w, e.Status(), errorBody{Error: errorJSON{
		Code:       e.Code,
		Message:    e.Message(),
		DevMessage: e.DevMessage(),
		Source:     "callgate",
		Details:    details,
	}})
	return e
}

// decode reads a JSON object body into v. An empty body (or "null") leaves v
// as is; unknown fields are ignored, as the wire format promises.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge()
		}
		return apierr.New(apierr.BadRequest).With("reason", "the request body could not be read.").Wrap(err)
	}
	// JSON's whitespace only: strings.TrimSpace also took \f, \v and
	// Unicode spaces, so "\fnull" passed for an empty body.
	trimmed := strings.Trim(string(body), " \t\r\n")
	if trimmed == "" || trimmed == "null" {
		return nil
	}
	if trimmed[0] != '{' {
		return apierr.New(apierr.BadRequest).With("reason", "the body must be a JSON object.").
			SetDetails("body", "must be a JSON object")
	}
	if !utf8.Valid(body) {
		// encoding/json would quietly store U+FFFD in place of the bad bytes.
		return badUTF8(body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return apierr.New(apierr.BadRequest).Field(te.Field, "must be "+jsonKind(te.Type.Kind().String()))
		}
		return apierr.New(apierr.BadRequest).With("reason", "the body is not valid JSON.").
			SetDetails("body", "is not valid JSON")
	}
	return nil
}

// badUTF8 names the top-level fields of a JSON object body whose values
// hold invalid UTF-8 (RawMessage keeps their bytes as sent).
func badUTF8(body []byte) error {
	e := apierr.New(apierr.BadRequest)
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) == nil {
		names := make([]string, 0, len(fields))
		for k, raw := range fields {
			if !utf8.Valid(raw) && utf8.ValidString(k) {
				names = append(names, k)
			}
		}
		slices.Sort(names)
		for _, k := range names {
			e.Field(sanitize(k), "must be valid UTF-8")
		}
		if len(names) > 0 {
			return e
		}
	}
	return e.With("reason", "the body is not valid UTF-8.").SetDetails("body", "must be valid UTF-8")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	default:
		return "a number"
	}
}

func tooLarge() *apierr.Error {
	return apierr.New(apierr.PayloadTooLarge).With("limit", strconv.Itoa(MaxBodyBytes))
}

// etagMatch reports whether an If-None-Match header names etag.
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
