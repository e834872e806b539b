package dns

import (
	"net/netip"
	"testing"
)

func TestParseReverse(t *testing.T) {
	tests := []struct {
		name string
		want string // "" when not a full reverse name
	}{
		{"20.0.43.10.in-addr.arpa.", "10.43.0.20"},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", "fd00::1"},
		{"0.43.10.in-addr.arpa.", ""},
		{"256.0.43.10.in-addr.arpa.", ""},
		{"01.0.43.10.in-addr.arpa.", ""},
		{"x.0.43.10.in-addr.arpa.", ""},
		{"1.0.d.f.ip6.arpa.", ""},
		{"example.com.", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseReverse(tc.name)
			if tc.want == "" {
				if ok {
					t.Fatalf("parsed %s, want no address", got)
				}
				return
			}
			if !ok || got != netip.MustParseAddr(tc.want) {
				t.Fatalf("got %s %v, want %s", got, ok, tc.want)
			}
		})
	}
}

func TestReverseZoneOf(t *testing.T) {
	tests := []struct{ prefix, want string }{
		{"10.43.0.0/16", "43.10.in-addr.arpa."},
		{"10.43.0.0/24", "0.43.10.in-addr.arpa."},
		{"10.32.0.0/12", "10.in-addr.arpa."},
		{"fd00:43::/112", "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.0.0.0.0.d.f.ip6.arpa."},
	}
	for _, tc := range tests {
		if got := reverseZoneOf(netip.MustParsePrefix(tc.prefix)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.prefix, got, tc.want)
		}
	}
}

func TestPodIP(t *testing.T) {
	tests := []struct{ label, want string }{
		{"10-42-0-5", "10.42.0.5"},
		{"fd00--5", "fd00::5"},
		{"10-42-0", ""},
		{"web", ""},
		{"1-2-3-4-5", ""},
	}
	for _, tc := range tests {
		got, ok := podIP(tc.label)
		if tc.want == "" && ok || tc.want != "" && (!ok || got != netip.MustParseAddr(tc.want)) {
			t.Errorf("%s: %s %v, want %q", tc.label, got, ok, tc.want)
		}
	}
}
