package cli

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
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

func TestDNSProbe(t *testing.T) {
	a := func(name string) dns.RR {
		rr, err := dns.NewRR(name + " 5 IN A 10.43.0.1")
		if err != nil {
			t.Fatal(err)
		}
		return rr
	}
	for _, tc := range []struct {
		name  string
		reply func(q *dns.Msg) (*dns.Msg, error)
		want  bool
	}{
		{"answered", func(q *dns.Msg) (*dns.Msg, error) {
			r := new(dns.Msg)
			r.SetReply(q)
			r.Answer = []dns.RR{a(q.Question[0].Name)}
			return r, nil
		}, true},
		{"not yet synced", func(q *dns.Msg) (*dns.Msg, error) {
			r := new(dns.Msg)
			r.SetRcode(q, dns.RcodeNameError)
			return r, nil
		}, false},
		{"not listening", func(*dns.Msg) (*dns.Msg, error) { return nil, errors.New("connection refused") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newDNSProbe("10.43.0.10", "cluster.local")
			var asked string
			p.exchange = func(_ context.Context, m *dns.Msg, server string) (*dns.Msg, error) {
				asked = server + " " + m.Question[0].Name
				return tc.reply(m)
			}
			if got := p.answers(context.Background()); got != tc.want {
				t.Errorf("answers = %v, want %v", got, tc.want)
			}
			if asked != "10.43.0.10:53 kubernetes.default.svc.cluster.local." {
				t.Errorf("asked %q", asked)
			}
		})
	}
}
