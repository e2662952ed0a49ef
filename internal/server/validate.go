package server

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/provision"
	"github.com/callgate/callgate/internal/store"
)

// Field limits (docs/design.md "Tenancy and credentials"; the sessionId's
// in docs/call-tokens.md).
const (
	maxNameLen      = 100
	maxURLLen       = 3000
	maxRoleLen      = 100
	maxMetadata     = 5 * 1024
	maxTags         = 100
	maxTagLen       = 100
	maxDeviceField  = 255
	maxUserAgent    = 1024
	maxSessionIDLen = 255
)

// validator collects every bad field of a request, so one 400 names them all.
type validator struct{ err *apierr.Error }

func (v *validator) bad(field, problem string) {
	if v.err == nil {
		v.err = apierr.New(apierr.BadRequest)
	}
	v.err.Field(field, problem)
}

func (v *validator) result() error {
	if v.err == nil {
		return nil
	}
	return v.err
}

func (v *validator) text(field, s string, max int) {
	if !utf8.ValidString(s) {
		v.bad(field, "must be valid UTF-8")
	} else if strings.IndexByte(s, 0) >= 0 {
		// PostgreSQL text cannot hold U+0000 (the insert failed with a 500)
		// and SQLite's LIKE stops at it (searchKey "\x00" matched everyone).
		v.bad(field, "must not contain NUL characters")
	} else if utf8.RuneCountInString(s) > max {
		v.bad(field, "must be at most "+strconv.Itoa(max)+" characters")
	}
}

func (v *validator) required(field, s string) {
	if strings.TrimSpace(s) == "" {
		v.bad(field, "is required")
	}
}

func (v *validator) url(field, s string) {
	if s == "" {
		return
	}
	if len(s) > maxURLLen {
		v.bad(field, "must be at most "+strconv.Itoa(maxURLLen)+" characters")
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.bad(field, "must be an http(s) URL")
	}
}

// uid normalises a uid from a body or path, recording a bad one.
func (v *validator) uid(field, s string) string {
	uid, reason := credential.NormalizeUID(s)
	if reason != "" {
		v.bad(field, reason)
	}
	return uid
}

// role validates and normalises a role: like a uid, [a-z0-9_-] compared
// without case and stored in lower case ("Admin_X" is the role admin_x).
func (v *validator) role(p *string) *string {
	if p == nil || *p == "" {
		return p
	}
	if len(*p) > maxRoleLen {
		v.bad("role", "must be at most 100 characters")
		return p
	}
	r, reason := credential.NormalizeUID(*p)
	if reason != "" {
		v.bad("role", "may only contain a-z, 0-9, _ and -")
	}
	return &r
}

func (v *validator) metadata(m json.RawMessage) json.RawMessage {
	t := strings.TrimSpace(string(m))
	if t == "" || t == "null" {
		return nil
	}
	if t[0] != '{' {
		v.bad("metadata", "must be a JSON object")
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, m); err != nil {
		v.bad("metadata", "must be a JSON object")
		return nil
	}
	if buf.Len() > maxMetadata {
		v.bad("metadata", "must be at most 5 KB")
		return nil
	}
	return json.RawMessage(buf.Bytes())
}

func (v *validator) tags(tags []string) []string {
	if len(tags) > maxTags {
		v.bad("tags", "must hold at most 100 tags")
		return nil
	}
	for _, t := range tags {
		if t == "" || !utf8.ValidString(t) || utf8.RuneCountInString(t) > maxTagLen {
			v.bad("tags", "each tag must be 1–100 characters")
			return nil
		}
	}
	return tags
}

func (v *validator) key(req keyReq, create bool) {
	if req.Name != nil || create {
		name := deref(req.Name)
		v.required("name", name)
		v.text("name", name, maxNameLen)
	}
	if req.Scope != nil || create {
		if !provision.ValidScope(deref(req.Scope)) {
			v.bad("scope", "must be authOnly or fullAccess")
		}
	}
}

// patch validates the user fields of req into a store patch.
func (v *validator) patch(req userReq, create bool) store.UserPatch {
	p := store.UserPatch{Name: req.Name, Avatar: req.Avatar, Link: req.Link, Role: req.Role, Tags: req.Tags, Deactivated: req.Deactivated}
	if req.Name != nil || create {
		v.required("name", deref(req.Name))
		v.text("name", deref(req.Name), maxNameLen)
	}
	v.url("avatar", deref(req.Avatar))
	v.url("link", deref(req.Link))
	p.Role = v.role(req.Role)
	if req.Metadata != nil {
		m := v.metadata(req.Metadata)
		p.Metadata = &m
	}
	if req.Tags != nil {
		t := v.tags(*req.Tags)
		p.Tags = &t
	}
	return p
}

// device validates and normalises the device fields of a body.
func (v *validator) device(req *tokenReq) {
	if req.UserAgent == "" {
		var ua string
		if json.Unmarshal(req.AppInfo.UserAgent, &ua) == nil {
			req.UserAgent = ua
		}
	}
	req.Platform = strings.ToLower(strings.TrimSpace(req.Platform))
	v.text("platform", req.Platform, 32)
	v.text("deviceId", req.DeviceID, maxDeviceField)
	v.text("userAgent", req.UserAgent, maxUserAgent)
}

// sessionID validates the sessionId of a body: 1–255 characters, no
// whitespace or control characters.
func (v *validator) sessionID(p *string) string {
	if p == nil || *p == "" {
		v.bad("sessionId", "is required")
		return ""
	}
	s := *p
	switch {
	case !utf8.ValidString(s):
		v.bad("sessionId", "must be valid UTF-8")
	case utf8.RuneCountInString(s) > maxSessionIDLen:
		v.bad("sessionId", "must be at most "+strconv.Itoa(maxSessionIDLen)+" characters")
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		v.bad("sessionId", "must not contain whitespace or control characters")
	}
	return s
}

func (v *validator) intParam(name, raw string, def, lo, hi int) int {
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		v.bad(name, "must be a whole number from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
		return def
	}
	return n
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
