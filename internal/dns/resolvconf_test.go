package dns

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestUpstreamsFrom(t *testing.T) {
	tests := []struct {
		name, resolv, systemd string
		want                  []string
	}{
		{"plain", "nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch example\n", "", []string{"192.0.2.53:53", "[2001:db8::53]:53"}},
		{"systemd stub", "nameserver 127.0.0.53\noptions edns0 trust-ad\n", "nameserver 192.0.2.1\nnameserver 192.0.2.2\n", []string{"192.0.2.1:53", "192.0.2.2:53"}},
		{"stub and another", "nameserver 127.0.0.53\nnameserver 192.0.2.9\n", "nameserver 192.0.2.1\n", []string{"192.0.2.9:53", "192.0.2.1:53"}},
		{"local resolver kept", "nameserver 127.0.0.1\n", "", []string{"127.0.0.1:53"}},
		{"none", "search example\n", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			resolv, systemd := filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "systemd.conf")
			if err := os.WriteFile(resolv, []byte(tc.resolv), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.systemd != "" {
				if err := os.WriteFile(systemd, []byte(tc.systemd), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := upstreamsFrom(resolv, systemd)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := upstreamsFrom("/nonexistent/resolv.conf", ""); err == nil {
		t.Error("a missing resolv.conf gave no error")
	}
}
