package daemon

import "testing"

func TestUnescapeMountPoint(t *testing.T) {
	for in, want := range map[string]string{
		"/tmp/nb1/data":      "/tmp/nb1/data",
		`/tmp/a\040b`:        "/tmp/a b",
		`/tmp/tab\011x\134y`: "/tmp/tab\tx\\y",
		`/tmp/trailing\04`:   `/tmp/trailing\04`,
	} {
		if got := unescapeMountPoint(in); got != want {
			t.Errorf("unescapeMountPoint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMountPointOf(t *testing.T) {
	if got := MountPointOf("/"); got != "/" {
		t.Errorf("MountPointOf(/) = %q", got)
	}
	if got := MountPointOf("/proc/self"); got != "/proc" {
		t.Errorf("MountPointOf(/proc/self) = %q, want /proc", got)
	}
}
