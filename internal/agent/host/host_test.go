package host

import (
	corev1 "k8s.io/api/core/v1"
	"os"
	"path/filepath"
	"testing"
)

func TestRead(t *testing.T) {
	f, err := Read(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"cpu", "memory", "ephemeral-storage", "pods"} {
		q, ok := f.Capacity[corev1.ResourceName(r)]
		if !ok || q.IsZero() {
			t.Errorf("capacity %s = %v, want > 0", r, q.String())
		}
	}
	if f.Info.KernelVersion == "" || f.Info.BootID == "" || f.Info.OSImage == "" {
		t.Errorf("info incomplete: %+v", f.Info)
	}
}

func TestMemTotalAndOSImage(t *testing.T) {
	dir := t.TempDir()
	meminfo := filepath.Join(dir, "meminfo")
	os.WriteFile(meminfo, []byte("MemFree: 1 kB\nMemTotal:       2048 kB\n"), 0o644)
	if got, err := memTotal(meminfo); err != nil || got != 2048*1024 {
		t.Errorf("memTotal = %d, %v", got, err)
	}
	osr := filepath.Join(dir, "os-release")
	os.WriteFile(osr, []byte("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"), 0o644)
	if got := osImage(osr); got != "Debian GNU/Linux 12 (bookworm)" {
		t.Errorf("osImage = %q", got)
	}
	if got := osImage(filepath.Join(dir, "absent")); got != "Linux" {
		t.Errorf("osImage of nothing = %q", got)
	}
}

func TestNodeIP(t *testing.T) {
	ip, err := NodeIP("")
	if err != nil || ip == "" {
		t.Fatalf("NodeIP = %q, %v", ip, err)
	}
	if got, err := NodeIP(ip); err != nil || got != ip {
		t.Errorf("NodeIP(%s) = %q, %v", ip, got, err)
	}
	if _, err := NodeIP("203.0.113.77"); err == nil {
		t.Error("NodeIP accepted an address the host does not have")
	}
}
