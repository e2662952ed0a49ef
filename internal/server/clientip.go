package server

// The client's address: the peer, or, when the peer is a trusted proxy, the
// address its forwarding headers name. Rate limits, request logs and
// anything else that needs "who is calling" use clientIP(r), which reads
// what the middleware worked out once per request.

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies parses a comma-separated list of CIDR ranges (a bare
// address is a range of one) as --trusted-proxies takes it.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not a CIDR range or an address (want e.g. 10.0.0.0/8, 127.0.0.1 or fd00::/8)", f)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() {
			// ::ffff:10.0.0.0/104 is 10.0.0.0/8; peers are unmapped too.
			if p.Bits() < 96 {
				return nil, fmt.Errorf("%q: an IPv4-mapped range must be /96 or longer", f)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// resolveClient is the client address of r given the trusted proxy ranges
// (the one rule, docs/operations.md "Trusted proxies"):
//
//   - Unless the peer (the TCP connection's address) is in a trusted range,
//     the client is the peer and forwarding headers are ignored: a client
//     cannot choose its address.
//   - From a trusted peer, X-Forwarded-For is read if present, otherwise
//     Forwarded (RFC 7239, its for= parameters). Every proxy we know of
//     (nginx, HAProxy, the cloud load balancers) appends to
//     X-Forwarded-For and passes a client's Forwarded header on untouched,
//     so preferring Forwarded would let clients behind them pick their
//     address.
//   - The list is walked from the right (the entry the nearest proxy
//     added): the client is the first address that is not itself in a
//     trusted range. A malformed or unknown entry (garbage, "unknown", an
//     obfuscated identifier) stops the walk: the client is then the last
//     address accepted, a trusted proxy, or the peer. If every entry is
//     trusted, the client is the left-most one.
//
// It returns the client and the peer, both as text.
func resolveClient(r *http.Request, trusted []netip.Prefix) (client, peer string) {
	peer = peerHost(r.RemoteAddr)
	if len(trusted) == 0 {
		return peer, peer
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !inRanges(addr.Unmap(), trusted) {
		return peer, peer
	}
	cur := addr.Unmap()
	var hops []string
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		for _, v := range xff {
			hops = append(hops, strings.Split(v, ",")...)
		}
	} else if fwd := r.Header.Values("Forwarded"); len(fwd) > 0 {
		hops = forwardedFor(fwd)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		cur = a
		if !inRanges(a, trusted) {
			break
		}
	}
	return cur.String(), peer
}

func peerHost(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

func inRanges(a netip.Addr, ranges []netip.Prefix) bool {
	for _, p := range ranges {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop parses one address of X-Forwarded-For or one for= node of
// Forwarded (quotes removed): an IPv4 or IPv6 address, with or without a
// port, IPv6 with or without brackets. No zones.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), a.Zone() == ""
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), ap.Addr().Zone() == ""
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") { // [2001:db8::1]
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return a.Unmap(), a.Zone() == ""
		}
	}
	// RFC 7239 allows an obfuscated port ("[2001:db8::1]:_abc"); the
	// address is still good.
	if host, port, err := net.SplitHostPort(s); err == nil && strings.HasPrefix(port, "_") {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap(), a.Zone() == ""
		}
	}
	return netip.Addr{}, false
}

// forwardedFor returns the for= node of each element of Forwarded header
// values, in order; an element without one yields "" (which stops the
// walk, as the hop that added it did not say whom it forwarded for).
// Quoted strings may hold commas and semicolons.
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, elem := range splitQuoted(v, ',') {
			if strings.TrimSpace(elem) == "" {
				continue
			}
			node := ""
			for _, pair := range splitQuoted(elem, ';') {
				k, val, ok := strings.Cut(pair, "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
					node = unquote(strings.TrimSpace(val))
					break
				}
			}
			out = append(out, node)
		}
	}
	return out
}

// splitQuoted splits s at sep outside double-quoted strings.
func splitQuoted(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquote removes the quotes of an RFC 7230 quoted-string (and its
// backslash escapes); a bare token is returned as is. An unterminated
// quote yields "", which parseHop refuses.
func unquote(s string) string {
	if !strings.HasPrefix(s, `"`) {
		return s
	}
	if len(s) < 2 || !strings.HasSuffix(s, `"`) {
		return ""
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		if s[i] == '\\' && i+1 < len(s)-1 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// clientIP is the address of the client of r: the peer, or what trusted
// proxies say (resolveClient), as the middleware worked it out. The
// failed-authentication limit, the request log and anything else that
// names the client use it, so a forged header from an untrusted peer
// steers none of them.
func clientIP(r *http.Request) string {
	if ri, ok := r.Context().Value(infoKey{}).(*reqInfo); ok && ri.client != "" {
		return ri.client
	}
	return peerHost(r.RemoteAddr)
}
