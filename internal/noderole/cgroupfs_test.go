package noderole

import (
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseCgroupMounts(t *testing.T) {
	const rel = unix.MS_RELATIME
	const secure = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	tests := []struct {
		name      string
		mountinfo string
		want      []cgroupMount
	}{
		{
			name: "v1 with a unified hierarchy (hybrid)",
			mountinfo: `22 1 0:20 / /sys rw,relatime - sysfs sysfs rw
30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
41 22 0:38 / /sys/fs/bpf rw,relatime - bpf bpf rw
`,
			want: []cgroupMount{
				{target: "/sys/fs/cgroup", fstype: "tmpfs", source: "tmpfs", flags: rel, data: "mode=755"},
				{target: "/sys/fs/cgroup/cpu", fstype: "cgroup", source: "cgroup", flags: rel, data: "cpu"},
				{target: "/sys/fs/cgroup/systemd", fstype: "cgroup", source: "cgroup", flags: rel, data: "name=systemd"},
				{target: "/sys/fs/cgroup/unified", fstype: "cgroup2", source: "cgroup2", flags: rel, data: ""},
			},
		},
		{
			name:      "unified (systemd's v2), optional fields",
			mountinfo: "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
			want: []cgroupMount{{target: "/sys/fs/cgroup", fstype: "cgroup2", source: "cgroup2", flags: secure | rel,
				data: "nsdelegate,memory_recursiveprot"}},
		},
		{
			name:      "none (ip netns exec's fresh sysfs)",
			mountinfo: "600 590 0:80 / /sys rw,relatime - sysfs jtag rw\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseCgroupMounts([]byte(tt.mountinfo)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
