package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientIP: resolveClient with trusted proxies (10.0.0.0/8, 127.0.0.1,
// fd00::/8, ::ffff:192.168.0.0/112). A peer outside them always is the
// client, whatever it sends; behind them the client is a plain address
// (no zone, not IPv4-mapped) that the peer or a forwarding header named,
// and every hop the walk passed over is trusted. Forwarded's for= nodes
// round-trip through quoting.
func FuzzClientIP(f *testing.F) {
	for _, s := range [][3]string{
		{"203.0.113.9:5555", "198.51.100.1", ""},
		{"10.0.0.1:5555", "198.51.100.1", ""},
		{"10.0.0.1:5555", "198.51.100.1, 10.1.1.1", ""},
		{"10.0.0.1:5555", "unknown, 10.1.1.1", ""},
		{"10.0.0.1:5555", "10.2.2.2,10.3.3.3", ""},
		{"10.0.0.1:5555", "", `for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"`},
		{"10.0.0.1:5555", "", `for="_gazonk"`},
		{"10.0.0.1:5555", "", `for="[2001:db8::1]:_abc", for=unknown`},
		{"[::ffff:10.0.0.1]:1", "[2001:db8::1]:80", ""},
		{"[fd00::1]:1", "fe80::1%eth0", ""},
		{"[::ffff:192.168.0.7]:1", "::ffff:198.51.100.7", ""},
		{"127.0.0.1:80", "1.2.3.4:80, [::1]", ""},
		{"10.0.0.1:5555", "", `for="a\"b;c,d"`},
		{"not an address", "1.2.3.4", ""},
		{"", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 127.0.0.1, fd00::/8, ::ffff:192.168.0.0/112")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, peerAddr, xff, fwd string) {
		r := httptest.NewRequest(http.MethodGet, "/v3/users", nil)
		r.RemoteAddr = peerAddr
		for _, v := range headerValues(xff) {
			r.Header.Add("X-Forwarded-For", v)
		}
		for _, v := range headerValues(fwd) {
			r.Header.Add("Forwarded", v)
		}
		client, peer := resolveClient(r, trusted)
		if peer != peerHost(peerAddr) {
			t.Fatalf("peer %q of %q", peer, peerAddr)
		}
		pa, perr := netip.ParseAddr(peer)
		if perr != nil || !inRanges(pa.Unmap(), trusted) {
			if client != peer {
				t.Fatalf("untrusted peer %q: client %q (xff %q, forwarded %q)", peer, client, xff, fwd)
			}
			return
		}
		ca, err := netip.ParseAddr(client)
		if err != nil || ca.Zone() != "" || ca.Is4In6() || ca.String() != client {
			t.Fatalf("client %q is not a plain address (xff %q, forwarded %q)", client, xff, fwd)
		}
		var hops []string
		if xs := r.Header.Values("X-Forwarded-For"); len(xs) > 0 {
			for _, v := range xs {
				hops = append(hops, strings.Split(v, ",")...)
			}
		} else {
			hops = forwardedFor(r.Header.Values("Forwarded"))
		}
		// Walk from the right: every hop passed over is a trusted address;
		// the client is the peer or the hop the walk stopped on.
		at := -1 // the peer
		for i := len(hops) - 1; i >= 0; i-- {
			a, ok := parseHop(hops[i])
			if !ok {
				break
			}
			at = i
			if !inRanges(a, trusted) {
				break
			}
		}
		want := pa.Unmap()
		if at >= 0 {
			want, _ = parseHop(hops[at])
		}
		if ca != want {
			t.Fatalf("client %q, want %v (hops %q)", client, want, hops)
		}
		// for= nodes survive quoting.
		nodes := strings.Split(xff, ",")
		var b strings.Builder
		for i, n := range nodes {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(`proto=https;for="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(n) + `";by=x`)
		}
		if got := forwardedFor([]string{b.String()}); !equalStrings(got, nodes) && validHeader(b.String()) {
			t.Fatalf("forwardedFor(%q) = %q, want %q", b.String(), got, nodes)
		}
	})
}

// headerValues splits s into the values of a repeated header, as they
// could arrive (no CR, LF or NUL).
func headerValues(s string) []string {
	if s == "" {
		return nil
	}
	s = strings.NewReplacer("\r", "", "\x00", "").Replace(s)
	return strings.Split(s, "\n")
}

func validHeader(s string) bool { return !strings.ContainsAny(s, "\r\n\x00") }

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
