package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSystemdQuote(t *testing.T) {
	for in, want := range map[string]string{
		"--node-name=n1":             "--node-name=n1",
		"/usr/local/bin/mini":        "/usr/local/bin/mini",
		"--join=https://s:6443":      "--join=https://s:6443",
		"--node-name=a b":            `"--node-name=a b"`,
		`--x=say "hi"`:               `"--x=say \"hi\""`,
		`--x=a\b`:                    `"--x=a\\b"`,
		"--x=100%":                   "--x=100%%",
		"--x=$HOME":                  "--x=$$HOME",
		"--x=it's":                   `"--x=it's"`,
		"":                           `""`,
		"--data-dir=/var/lib/mini 2": `"--data-dir=/var/lib/mini 2"`,
	} {
		if got := systemdQuote(in); got != want {
			t.Errorf("systemdQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// installDirs runs `mini install` into temporary directories; it never
// starts anything.
func installDirs(t *testing.T) (unitDir, binDir string) {
	t.Helper()
	return filepath.Join(t.TempDir(), "system"), filepath.Join(t.TempDir(), "bin")
}

func TestInstallServer(t *testing.T) {
	unitDir, binDir := installDirs(t)
	out, _, err := run(t, context.Background(), "install", "server", "--unit-dir", unitDir, "--bin-dir", binDir, "--no-start",
		"--node-name", "my node", "--flannel-backend=host-gw", "--sim-nodes", "3", "--disable-agent")
	if err != nil {
		t.Fatal(err)
	}
	unit := readFile(t, filepath.Join(unitDir, "mini.service"))
	bin := filepath.Join(binDir, "mini")
	for _, want := range []string{
		"Type=exec\n", "Delegate=yes\n", "KillMode=process\n", "Restart=always\n", "RestartSec=5s\n",
		"LimitNOFILE=1048576\n", "TasksMax=infinity\n", "After=network-online.target\n", "WantedBy=multi-user.target\n",
		"ExecStartPre=-/sbin/modprobe br_netfilter\n", "ExecStartPre=-/sbin/modprobe overlay\n",
		"EnvironmentFile=-" + filepath.Join(unitDir, "mini.service.env") + "\n",
		"ExecStart=" + bin + " server \\\n",
		"\t--disable-agent=true \\\n", "\t--flannel-backend=host-gw \\\n", "\t\"--node-name=my node\" \\\n", "\t--sim-nodes=3\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	for _, unwanted := range []string{"unit-dir", "bin-dir", "no-start", "Type=notify"} {
		if strings.Contains(unit, unwanted) {
			t.Errorf("unit has %q:\n%s", unwanted, unit)
		}
	}
	if st, err := os.Stat(bin); err != nil || st.Mode().Perm() != 0o755 || st.Size() == 0 {
		t.Errorf("binary: %v, %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(unitDir, "mini.service.env")); !os.IsNotExist(err) {
		t.Errorf("server without a token has an environment file: %v", err)
	}
	for _, want := range []string{"Installed " + bin, "Wrote " + filepath.Join(unitDir, "mini.service"), "--no-start"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestInstallAgentKeepsTheTokenOutOfTheUnit(t *testing.T) {
	unitDir, binDir := installDirs(t)
	const token = "K10abcdef::abcdef.0123456789abcdef"
	_, _, err := run(t, context.Background(), "install", "agent", "--unit-dir", unitDir, "--bin-dir", binDir, "--no-start",
		"--join", "https://10.0.0.1:6443", "--token", token, "--node-name", "n2")
	if err != nil {
		t.Fatal(err)
	}
	unit := readFile(t, filepath.Join(unitDir, "mini-agent.service"))
	envPath := filepath.Join(unitDir, "mini-agent.service.env")
	if strings.Contains(unit, token) || strings.Contains(unit, "--token") {
		t.Errorf("the unit holds the token:\n%s", unit)
	}
	for _, want := range []string{" agent \\\n", "--join=https://10.0.0.1:6443", "--node-name=n2", "EnvironmentFile=-" + envPath} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	if env := readFile(t, envPath); env != "MINI_TOKEN="+token+"\n" {
		t.Errorf("environment file %q", env)
	}
	if st, err := os.Stat(envPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("environment file mode: %v, %v", st, err)
	}
}

func TestInstallErrors(t *testing.T) {
	unitDir, binDir := installDirs(t)
	common := []string{"--unit-dir", unitDir, "--bin-dir", binDir, "--no-start"}
	t.Setenv(tokenEnv, "")
	// Settings in the environment are the service's, not install's.
	t.Setenv("MINI_NODE_NAME", "from-env")
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"install", "agent", "--join", "https://s:6443"}, "token is required"},
		{[]string{"install", "agent", "--token", "t"}, "join"},
		{[]string{"install", "server", "--no-such-flag"}, "no-such-flag"},
		{[]string{"install", "server", "--sim-nodes", "x"}, "sim-nodes"},
	} {
		_, _, err := run(t, context.Background(), append(tt.args, common...)...)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v: %v, want an error about %q", tt.args, err, tt.wantErr)
		}
	}
	if _, _, err := run(t, context.Background(), append([]string{"install", "server"}, common...)...); err != nil {
		t.Fatal(err)
	}
	if unit := readFile(t, filepath.Join(unitDir, "mini.service")); strings.Contains(unit, "from-env") {
		t.Errorf("install baked the environment into the unit:\n%s", unit)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
