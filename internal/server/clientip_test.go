package server

import (
	"net/http"
	"net/netip"
	"testing"
)

func mustRanges(t *testing.T, list string) []netip.Prefix {
	t.Helper()
	p, err := ParseTrustedProxies(list)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The spoofing table: who may say which address the client has, through
// which header, across chains of proxies, IPv4 and IPv6, and garbage.
func TestResolveClient(t *testing.T) {
	const (
		lb      = "10.0.0.0/8"           // a load balancer tier
		local   = "127.0.0.1/32,::1/128" // nginx on the same machine
		v6proxy = "2001:db8:100::/48"
	)
	type H = map[string][]string
	for _, tc := range []struct {
		name    string
		trusted string
		peer    string
		h       H
		want    string
	}{
		// No trusted proxies: headers are ignored whatever they say.
		{"no flag, XFF ignored", "", "203.0.113.7:5000", H{"X-Forwarded-For": {"1.2.3.4"}}, "203.0.113.7"},
		{"no flag, Forwarded ignored", "", "203.0.113.7:5000", H{"Forwarded": {"for=1.2.3.4"}}, "203.0.113.7"},
		{"no flag, IPv6 peer", "", "[2001:db8::7]:5000", H{"X-Forwarded-For": {"1.2.3.4"}}, "2001:db8::7"},

		// A client outside the ranges cannot choose its address.
		{"untrusted peer, XFF", lb, "203.0.113.7:5000", H{"X-Forwarded-For": {"10.0.0.1, 1.2.3.4"}}, "203.0.113.7"},
		{"untrusted peer, Forwarded", lb, "203.0.113.7:5000", H{"Forwarded": {"for=1.2.3.4"}}, "203.0.113.7"},
		{"untrusted peer, both", lb, "203.0.113.7:5000", H{"Forwarded": {"for=1.2.3.4"}, "X-Forwarded-For": {"5.6.7.8"}}, "203.0.113.7"},
		{"untrusted IPv6 peer", v6proxy, "[2001:db8:200::1]:443", H{"X-Forwarded-For": {"1.2.3.4"}}, "2001:db8:200::1"},

		// One trusted proxy.
		{"trusted peer, XFF", local, "127.0.0.1:40000", H{"X-Forwarded-For": {"198.51.100.9"}}, "198.51.100.9"},
		{"trusted peer, no header", local, "127.0.0.1:40000", H{}, "127.0.0.1"},
		{"trusted peer, empty XFF", local, "127.0.0.1:40000", H{"X-Forwarded-For": {""}}, "127.0.0.1"},
		{"trusted IPv6 peer", local, "[::1]:40000", H{"X-Forwarded-For": {"2001:db8::9"}}, "2001:db8::9"},
		{"IPv4-mapped peer", local, "[::ffff:127.0.0.1]:40000", H{"X-Forwarded-For": {"198.51.100.9"}}, "198.51.100.9"},
		{"XFF with port", local, "127.0.0.1:1", H{"X-Forwarded-For": {"198.51.100.9:5555"}}, "198.51.100.9"},
		{"XFF bracketed IPv6", local, "127.0.0.1:1", H{"X-Forwarded-For": {"[2001:db8::9]"}}, "2001:db8::9"},
		{"XFF bracketed IPv6 with port", local, "127.0.0.1:1", H{"X-Forwarded-For": {"[2001:db8::9]:443"}}, "2001:db8::9"},
		{"XFF mapped IPv4 is unmapped", local, "127.0.0.1:1", H{"X-Forwarded-For": {"::ffff:198.51.100.9"}}, "198.51.100.9"},

		// A client behind a trusted proxy sends its own XFF: the proxy
		// appends the real address, which is what counts.
		{"forged XFF prefix", local, "127.0.0.1:1", H{"X-Forwarded-For": {"1.2.3.4, 198.51.100.9"}}, "198.51.100.9"},
		{"forged XFF line", local, "127.0.0.1:1", H{"X-Forwarded-For": {"1.2.3.4", "198.51.100.9"}}, "198.51.100.9"},
		{"forged trusted-looking XFF", local, "127.0.0.1:1", H{"X-Forwarded-For": {"127.0.0.1, 198.51.100.9"}}, "198.51.100.9"},

		// Chains: a cloud load balancer, then nginx on the host.
		{"chain of two", lb + "," + local, "127.0.0.1:1", H{"X-Forwarded-For": {"198.51.100.9, 10.1.2.3"}}, "198.51.100.9"},
		{"chain of three, forged prefix", lb + "," + local, "127.0.0.1:1", H{"X-Forwarded-For": {"6.6.6.6, 198.51.100.9, 10.9.9.9, 10.1.2.3"}}, "198.51.100.9"},
		{"chain, untrusted middle hop", local, "127.0.0.1:1", H{"X-Forwarded-For": {"198.51.100.9, 10.1.2.3"}}, "10.1.2.3"},
		{"every hop trusted", lb + "," + local, "127.0.0.1:1", H{"X-Forwarded-For": {"10.0.0.5, 10.0.0.6"}}, "10.0.0.5"},
		{"IPv6 chain", v6proxy, "[2001:db8:100::1]:443", H{"X-Forwarded-For": {"2001:db8:ffff::1, 2001:db8:100::2"}}, "2001:db8:ffff::1"},

		// Garbage stops the walk at the last good address.
		{"garbage only", local, "127.0.0.1:1", H{"X-Forwarded-For": {"not-an-ip"}}, "127.0.0.1"},
		{"garbage left of client", local, "127.0.0.1:1", H{"X-Forwarded-For": {"garbage, 198.51.100.9"}}, "198.51.100.9"},
		{"garbage right of client", lb + "," + local, "127.0.0.1:1", H{"X-Forwarded-For": {"198.51.100.9, garbage, 10.1.2.3"}}, "10.1.2.3"},
		{"empty entry", local, "127.0.0.1:1", H{"X-Forwarded-For": {"198.51.100.9, "}}, "127.0.0.1"},
		{"zone refused", local, "127.0.0.1:1", H{"X-Forwarded-For": {"fe80::1%eth0"}}, "127.0.0.1"},
		{"hostname refused", local, "127.0.0.1:1", H{"X-Forwarded-For": {"example.com"}}, "127.0.0.1"},
		{"overlong", local, "127.0.0.1:1", H{"X-Forwarded-For": {"1.2.3.4.5"}}, "127.0.0.1"},

		// Forwarded (RFC 7239).
		{"Forwarded for", local, "127.0.0.1:1", H{"Forwarded": {"for=198.51.100.9;proto=https;by=127.0.0.1"}}, "198.51.100.9"},
		{"Forwarded case and spaces", local, "127.0.0.1:1", H{"Forwarded": {"Proto=https; FOR=198.51.100.9"}}, "198.51.100.9"},
		{"Forwarded quoted IPv6 with port", local, "127.0.0.1:1", H{"Forwarded": {`for="[2001:db8:cafe::17]:4711"`}}, "2001:db8:cafe::17"},
		{"Forwarded quoted IPv6", local, "127.0.0.1:1", H{"Forwarded": {`for="[2001:db8:cafe::17]"`}}, "2001:db8:cafe::17"},
		{"Forwarded quoted IPv4 with port", local, "127.0.0.1:1", H{"Forwarded": {`for="198.51.100.9:4711"`}}, "198.51.100.9"},
		{"Forwarded obfuscated port", local, "127.0.0.1:1", H{"Forwarded": {`for="198.51.100.9:_p1"`}}, "198.51.100.9"},
		{"Forwarded chain", lb + "," + local, "127.0.0.1:1", H{"Forwarded": {"for=6.6.6.6, for=198.51.100.9, for=10.1.2.3"}}, "198.51.100.9"},
		{"Forwarded chain over lines", lb + "," + local, "127.0.0.1:1", H{"Forwarded": {"for=6.6.6.6, for=198.51.100.9", "for=10.1.2.3"}}, "198.51.100.9"},
		{"Forwarded unknown", local, "127.0.0.1:1", H{"Forwarded": {"for=unknown"}}, "127.0.0.1"},
		{"Forwarded obfuscated node", local, "127.0.0.1:1", H{"Forwarded": {"for=_hidden"}}, "127.0.0.1"},
		{"Forwarded without for", local, "127.0.0.1:1", H{"Forwarded": {"for=198.51.100.9, proto=https"}}, "127.0.0.1"},
		{"Forwarded comma inside quotes", local, "127.0.0.1:1", H{"Forwarded": {`for=198.51.100.9;ext="a,b;c"`}}, "198.51.100.9"},
		{"Forwarded unterminated quote", local, "127.0.0.1:1", H{"Forwarded": {`for="198.51.100.9`}}, "127.0.0.1"},
		{"Forwarded unquoted IPv6 (invalid, still read)", local, "127.0.0.1:1", H{"Forwarded": {`for=2001:db8::9`}}, "2001:db8::9"},

		// Both headers: X-Forwarded-For wins, Forwarded is not read.
		{"both: XFF wins", local, "127.0.0.1:1", H{"Forwarded": {"for=6.6.6.6"}, "X-Forwarded-For": {"198.51.100.9"}}, "198.51.100.9"},
		{"both: garbage XFF, Forwarded not used", local, "127.0.0.1:1", H{"Forwarded": {"for=6.6.6.6"}, "X-Forwarded-For": {"junk"}}, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for k, vs := range tc.h {
				r.Header[http.CanonicalHeaderKey(k)] = vs
			}
			var trusted []netip.Prefix
			if tc.trusted != "" {
				trusted = mustRanges(t, tc.trusted)
			}
			got, peer := resolveClient(r, trusted)
			if got != tc.want {
				t.Errorf("client = %q, want %q", got, tc.want)
			}
			if want := peerHost(tc.peer); peer != want {
				t.Errorf("peer = %q, want %q", peer, want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got := mustRanges(t, " 10.0.0.0/8, 127.0.0.1 ,::1, 192.168.1.77/24,,fd00::/8, ::ffff:172.16.0.0/108")
	want := []string{"10.0.0.0/8", "127.0.0.1/32", "::1/128", "192.168.1.0/24", "fd00::/8", "172.16.0.0/12"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("range %d = %s, want %s", i, got[i], want[i])
		}
	}
	if p, err := ParseTrustedProxies(""); err != nil || len(p) != 0 {
		t.Errorf("empty list: %v %v", p, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "localhost", "10.0.0.0/8;", "fe80::1%eth0", "::ffff:10.0.0.0/80"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func BenchmarkResolveClient(b *testing.B) {
	trusted, _ := ParseTrustedProxies("10.0.0.0/8,127.0.0.1/32")
	r, _ := http.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:5555"
	r.Header.Set("X-Forwarded-For", "198.51.100.9, 10.1.2.3")
	for b.Loop() {
		resolveClient(r, trusted)
	}
}
