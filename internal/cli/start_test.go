package cli

import (
	"net"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestReadStartFlags(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		want     []string
		explicit bool
	}{
		{"none", nil, []string{"--data-dir=/var/lib/mini"}, false},
		{"data dir only", []string{"--data-dir", "d"}, []string{"--data-dir=" + abs(t, "d")}, false},
		{"sorted, timeout left out", []string{"--sim-nodes", "2", "--disable-agent", "--timeout", "5s", "--data-dir=/x"},
			[]string{"--data-dir=/x", "--disable-agent=true", "--sim-nodes=2"}, true},
		{"a flag set to its default still counts", []string{"--https-listen-port", "6443"},
			[]string{"--data-dir=/var/lib/mini", "--https-listen-port=6443"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newStartCommand(Streams{})
			if err := cmd.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			f, err := readStartFlags(cmd.Flags())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f.server, tc.want) || f.explicit != tc.explicit {
				t.Errorf("server flags %q (explicit %v), want %q (%v)", f.server, f.explicit, tc.want, tc.explicit)
			}
		})
	}
}

func abs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestFlagDiff(t *testing.T) {
	for _, tc := range []struct {
		name           string
		running, asked []string
		want           []string
	}{
		{"same", []string{"--a=1", "--b=x"}, []string{"--a=1", "--b=x"}, nil},
		{"changed", []string{"--a=1"}, []string{"--a=2"}, []string{"--a: running 1, asked 2"}},
		{"added and dropped", []string{"--a=1"}, []string{"--b=2"},
			[]string{"--a: running 1, asked default", "--b: running default, asked 2"}},
		{"repeated flags compare as lists", []string{"--d=x", "--d=y"}, []string{"--d=x"}, []string{"--d: running x,y, asked x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := flagDiff(tc.running, tc.asked); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("flagDiff = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckPortFree(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	err = checkPortFree("127.0.0.1", port, "--https-listen-port")
	want := "port " + strconv.Itoa(port) + " is in use by another process; stop it or pass --https-listen-port"
	if err == nil || err.Error() != want {
		t.Errorf("taken port: %v, want %q", err, want)
	}
	if err := checkPortFree("127.0.0.1", 0, "--x"); err != nil {
		t.Errorf("port 0: %v", err)
	}
}

func TestProgressWithoutATerminal(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b)
	p.spin("waiting", 0)
	p.done("API", "https://127.0.0.1:6443", 0)
	if strings.ContainsAny(b.String(), "\r\033") || !strings.Contains(b.String(), "✓ API") {
		t.Errorf("progress off a terminal: %q", b.String())
	}
}
