package server

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/callgate/callgate/internal/apierr"
	"github.com/callgate/callgate/internal/credential"
	"github.com/callgate/callgate/internal/store"
	"github.com/callgate/callgate/internal/wire"
)

// Field limits (docs/design.md "Tenancy and credentials").
const (
	maxNameLen     = 100
	maxURLLen      = 3000
	maxRoleLen     = 100
	maxMetadata    = 5 * 1024
	maxTags        = 100
	maxTagLen      = 100
	maxDeviceField = 255
	maxUserAgent   = 1024
)

// userJSON and tokenJSON are the wire shapes with their own methods (the
// hand-written encoders in jsonw.go).
type userJSON wire.User

// userView renders u; status comes from presence, not from the record.
func (s *Server) userView(u *store.User) userJSON {
	return userJSON{
		UID: u.UID, Name: u.Name, Avatar: u.Avatar, Link: u.Link, Role: u.Role,
		Metadata: u.Metadata, Tags: u.Tags, Status: s.status(u),
		LastActiveAt: u.LastActiveAt, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
		DeactivatedAt: u.DeactivatedAt,
	}
}

// status is "online" while the user has a live realtime connection: on this
// node (known now), or on any node (as the record read from storage says).
func (s *Server) status(u *store.User) string {
	if u.Status == "online" || s.hub != nil && s.hub.Online(u.AppID, u.UID) {
		return "online"
	}
	return "offline"
}

type tokenJSON wire.Token

func tokenView(t *store.AuthToken) tokenJSON { return tokenJSON(wire.TokenOf(t)) }

type keyJSON = wire.Key

func keyView(k *store.APIKey) keyJSON { return wire.KeyOf(k, "") }

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
