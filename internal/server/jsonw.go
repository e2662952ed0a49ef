package server

import (
	"strconv"
	"unicode/utf8"
)

// The user object is on every hot path (GET/PUT /me, login): encode it by
// appending, without reflection. The output is byte-for-byte what
// encoding/json produces (jsonw_test.go checks).

type jsonAppender interface{ appendJSON([]byte) []byte }

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped exactly like
// encoding/json (HTML-safe, U+2028/U+2029 escaped, bad UTF-8 as U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendField(b []byte, name string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

func (u userJSON) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = appendString(appendField(b, "uid", true), u.UID)
	b = appendString(appendField(b, "name", false), u.Name)
	if u.Avatar != "" {
		b = appendString(appendField(b, "avatar", false), u.Avatar)
	}
	if u.Link != "" {
		b = appendString(appendField(b, "link", false), u.Link)
	}
	b = appendString(appendField(b, "role", false), u.Role)
	if len(u.Metadata) > 0 {
		b = append(appendField(b, "metadata", false), u.Metadata...) // stored compact and valid
	}
	if len(u.Tags) > 0 {
		b = append(appendField(b, "tags", false), '[')
		for i, t := range u.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, t)
		}
		b = append(b, ']')
	}
	b = appendString(appendField(b, "status", false), u.Status)
	if u.LastActiveAt != 0 {
		b = strconv.AppendInt(appendField(b, "lastActiveAt", false), u.LastActiveAt, 10)
	}
	b = strconv.AppendInt(appendField(b, "createdAt", false), u.CreatedAt, 10)
	if u.UpdatedAt != 0 {
		b = strconv.AppendInt(appendField(b, "updatedAt", false), u.UpdatedAt, 10)
	}
	if u.DeactivatedAt != 0 {
		b = strconv.AppendInt(appendField(b, "deactivatedAt", false), u.DeactivatedAt, 10)
	}
	if u.AuthToken != "" {
		b = appendString(appendField(b, "authToken", false), u.AuthToken)
	}
	if u.AuthTokenExpiresAt != nil {
		b = strconv.AppendInt(appendField(b, "authTokenExpiresAt", false), *u.AuthTokenExpiresAt, 10)
	}
	return append(b, '}')
}

func (t tokenJSON) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = appendString(appendField(b, "id", true), t.ID)
	b = appendString(appendField(b, "uid", false), t.UID)
	for _, f := range [...]struct{ name, v string }{{"authToken", t.AuthToken}, {"platform", t.Platform}, {"deviceId", t.DeviceID}, {"userAgent", t.UserAgent}} {
		if f.v != "" {
			b = appendString(appendField(b, f.name, false), f.v)
		}
	}
	b = strconv.AppendInt(appendField(b, "createdAt", false), t.CreatedAt, 10)
	if t.LastUsedAt != 0 {
		b = strconv.AppendInt(appendField(b, "lastUsedAt", false), t.LastUsedAt, 10)
	}
	if t.ExpiresAt != 0 {
		b = strconv.AppendInt(appendField(b, "expiresAt", false), t.ExpiresAt, 10)
	}
	if t.Connected {
		b = append(appendField(b, "connected", false), "true"...)
	}
	return append(b, '}')
}
