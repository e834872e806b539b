package apiserver

import (
	"net/netip"
	"strings"
	"testing"
)

func TestIPRange(t *testing.T) {
	r, err := newIPRange("10.43.0.0/29") // 10.43.0.1 .. 10.43.0.6
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.allocate(netip.MustParseAddr("10.43.0.1")); err != nil || got.String() != "10.43.0.1" {
		t.Fatalf("explicit: %v %v", got, err)
	}
	tests := []struct {
		ip, wantErr string
	}{
		{"10.43.0.1", "already allocated"},
		{"10.43.0.0", "not in the valid range"},
		{"10.43.0.7", "not in the valid range"},
		{"10.44.0.1", "not in the valid range"},
	}
	for _, tt := range tests {
		if _, err := r.allocate(netip.MustParseAddr(tt.ip)); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("allocate %s: %v, want %q", tt.ip, err, tt.wantErr)
		}
	}
	seen := map[netip.Addr]bool{}
	for range 5 {
		ip, err := r.allocate(netip.Addr{})
		if err != nil || seen[ip] || !r.prefix.Contains(ip) || ip.String() == "10.43.0.1" {
			t.Fatalf("next: %v %v", ip, err)
		}
		seen[ip] = true
	}
	if _, err := r.allocate(netip.Addr{}); err != errRangeFull {
		t.Fatalf("full range: %v", err)
	}
	r.release(netip.MustParseAddr("10.43.0.4"))
	if ip, err := r.allocate(netip.Addr{}); err != nil || ip.String() != "10.43.0.4" {
		t.Fatalf("after release: %v %v", ip, err)
	}
}

func TestPortRange(t *testing.T) {
	r := newPortRange(30000, 30002)
	if p, err := r.allocate(30001); err != nil || p != 30001 {
		t.Fatal(p, err)
	}
	if _, err := r.allocate(30001); err == nil {
		t.Fatal("double allocation")
	}
	if _, err := r.allocate(29999); err == nil || !strings.Contains(err.Error(), "30000-30002") {
		t.Fatal(err)
	}
	a, _ := r.allocate(0)
	b, _ := r.allocate(0)
	if a == b || a == 30001 || b == 30001 {
		t.Fatal(a, b)
	}
	if _, err := r.allocate(0); err != errRangeFull {
		t.Fatal(err)
	}
}
