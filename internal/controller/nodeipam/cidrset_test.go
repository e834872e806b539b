package nodeipam

import (
	"errors"
	"net/netip"
	"testing"
)

func TestCIDRSet(t *testing.T) {
	s, err := newCIDRSet(netip.MustParsePrefix("10.42.0.0/22"), 24)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 4 {
		p, err := s.allocateNext()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.String())
	}
	want := []string{"10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24", "10.42.3.0/24"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("allocation %d = %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := s.allocateNext(); !errors.Is(err, errCIDRRangeFull) {
		t.Fatalf("allocating from a full set: err = %v, want errCIDRRangeFull", err)
	}
	s.release(netip.MustParsePrefix("10.42.1.0/24"))
	s.release(netip.MustParsePrefix("10.42.1.0/24")) // twice is harmless
	if s.inUse != 3 {
		t.Errorf("inUse = %d after release, want 3", s.inUse)
	}
	if p, err := s.allocateNext(); err != nil || p.String() != "10.42.1.0/24" {
		t.Errorf("after release got %v, %v; want 10.42.1.0/24", p, err)
	}
	for _, tc := range []struct {
		p    string
		want bool
	}{{"10.42.2.0/24", true}, {"10.43.0.0/24", false}, {"10.42.0.0/25", false}, {"fd00::/64", false}} {
		if got := s.occupy(netip.MustParsePrefix(tc.p)); got != tc.want {
			t.Errorf("occupy(%s) = %v, want %v", tc.p, got, tc.want)
		}
	}
}

func TestCIDRSetRotates(t *testing.T) {
	s, _ := newCIDRSet(netip.MustParsePrefix("10.42.0.0/16"), 24)
	a, _ := s.allocateNext()
	s.release(a)
	b, _ := s.allocateNext()
	if a == b {
		t.Errorf("released %s was handed out again at once", a)
	}
	if !s.occupy(netip.MustParsePrefix("10.42.255.0/24")) {
		t.Fatal("occupy of the last subnet failed")
	}
	if got := s.subnet(255).String(); got != "10.42.255.0/24" {
		t.Errorf("subnet(255) = %s", got)
	}
	v6, err := newCIDRSet(netip.MustParsePrefix("fd00:42::/56"), 64)
	if err != nil {
		t.Fatal(err)
	}
	if got := v6.subnet(3).String(); got != "fd00:42:0:3::/64" {
		t.Errorf("v6 subnet(3) = %s", got)
	}
	if idx, ok := v6.index(netip.MustParsePrefix("fd00:42:0:3::/64")); !ok || idx != 3 {
		t.Errorf("v6 index = %d, %v", idx, ok)
	}
}
