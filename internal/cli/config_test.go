package cli

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// testFlagSet has a flag of each kind server and agent have.
func testFlagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.String("node-name", "", "")
	fs.String("flannel-backend", "vxlan", "")
	fs.Int("sim-nodes", 0, "")
	fs.Int64("history-count", 1000, "")
	fs.Duration("history-age", time.Hour, "")
	fs.BoolP("verbose", "v", false, "")
	fs.StringArray("disable", nil, "")
	fs.String("token", "", "")
	fs.String(configFlag, "", "")
	return fs
}

func TestApplyFlagSources(t *testing.T) {
	known := map[string]bool{"join": true} // another command's flag
	testFlagSet().VisitAll(func(f *pflag.Flag) { known[f.Name] = true })
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		file    string
		want    map[string]string // flag → value after
		wantErr string
	}{{
		name: "defaults without sources",
		want: map[string]string{"node-name": "", "sim-nodes": "0", "flannel-backend": "vxlan", "disable": "[]"},
	}, {
		name: "file of every kind",
		file: "node-name: n1\nflannel-backend: host-gw\nsim-nodes: 3\nhistory-count: 9007199254740993\n" +
			"history-age: 90m\nverbose: true\ndisable: [traefik, servicelb]\n",
		want: map[string]string{"node-name": "n1", "flannel-backend": "host-gw", "sim-nodes": "3",
			"history-count": "9007199254740993", "history-age": "1h30m0s", "verbose": "true", "disable": "[traefik,servicelb]"},
	}, {
		name: "environment over file",
		env:  map[string]string{"MINI_NODE_NAME": "from-env", "MINI_SIM_NODES": "5", "MINI_VERBOSE": "false"},
		file: "node-name: from-file\nsim-nodes: 3\nverbose: true\nflannel-backend: none\n",
		want: map[string]string{"node-name": "from-env", "sim-nodes": "5", "verbose": "false", "flannel-backend": "none"},
	}, {
		name: "command line over environment and file",
		args: []string{"--node-name=from-args", "-v", "--disable=a"},
		env:  map[string]string{"MINI_NODE_NAME": "from-env", "MINI_VERBOSE": "false", "MINI_DISABLE": "b"},
		file: "node-name: from-file\ndisable: [c, d]\nsim-nodes: 2\n",
		want: map[string]string{"node-name": "from-args", "verbose": "true", "disable": "[a]", "sim-nodes": "2"},
	}, {
		name: "MINI_TOKEN sets --token",
		env:  map[string]string{"MINI_TOKEN": "K10abc::x.y"},
		want: map[string]string{"token": "K10abc::x.y"},
	}, {
		name: "another command's key is left alone",
		file: "join: https://s:6443\nnode-name: n1\n",
		want: map[string]string{"node-name": "n1"},
	}, {
		name:    "unknown key",
		file:    "node-name: n1\nnod-name: n2\n",
		wantErr: `unknown key "nod-name"`,
	}, {
		name:    "bad value",
		file:    "sim-nodes: three\n",
		wantErr: `sim-nodes: invalid argument "three"`,
	}, {
		name:    "bad environment value",
		env:     map[string]string{"MINI_SIM_NODES": "x"},
		wantErr: "$MINI_SIM_NODES: invalid argument",
	}, {
		name:    "list for a single value",
		file:    "node-name: [a, b]\n",
		wantErr: "a list, but --node-name takes one value",
	}, {
		name:    "map value",
		file:    "node-name: {a: b}\n",
		wantErr: "node-name: a value must be",
	}, {
		name:    "config in the file",
		file:    "config: /x\n",
		wantErr: `"config" cannot be set`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := testFlagSet()
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			file, err := readConfigFile(path, true)
			if err != nil {
				t.Fatal(err)
			}
			getenv := func(k string) string { return tt.env[k] }
			err = applyFlagSources(fs, known, getenv, file, path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) && !strings.HasPrefix(err.Error(), "$") {
					t.Fatalf("error %v, want one naming %s and %q", err, path, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error of more than one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				if got := fs.Lookup(name).Value.String(); got != want {
					t.Errorf("--%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestReadConfigFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	if m, err := readConfigFile(missing, false); err != nil || m != nil {
		t.Errorf("missing default file: %v, %v; want nothing", m, err)
	}
	if _, err := readConfigFile(missing, true); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing named file: %v, want an error naming it", err)
	}
	for _, body := range []string{"- a\n- b\n", "a: [\n"} {
		path := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readConfigFile(path, true); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: %v, want an error naming the file", body, err)
		}
	}
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if m, err := readConfigFile(empty, true); err != nil || len(m) != 0 {
		t.Errorf("empty file: %v, %v", m, err)
	}
}

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{"node-name": "MINI_NODE_NAME", "data-dir": "MINI_DATA_DIR", "token": "MINI_TOKEN"} {
		if got := envName(flag); got != want {
			t.Errorf("envName(%q) = %q, want %q", flag, got, want)
		}
	}
}

// TestConfigThroughRun runs a whole command (`mini logs`) with its flags
// from a file, the environment and the command line.
func TestConfigThroughRun(t *testing.T) {
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "mini.log"), []byte("one\ntwo\nthree\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "config.yaml")
	// sim-nodes and node-name are server flags: logs leaves them alone.
	body := "data-dir: " + data + "\ntail: 1\nsim-nodes: 3\nnode-name: n1\n"
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	lines := func(s string) []string { return strings.Fields(s) }
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    []string
		wantErr string
	}{
		{name: "file", args: []string{"logs", "--config", config}, want: []string{"three"}},
		{name: "$MINI_CONFIG", env: map[string]string{configEnv: config}, args: []string{"logs"}, want: []string{"three"}},
		{name: "environment over file", env: map[string]string{"MINI_TAIL": "2"}, args: []string{"logs", "--config", config}, want: []string{"two", "three"}},
		{name: "flag over environment", env: map[string]string{"MINI_TAIL": "2"}, args: []string{"logs", "--config", config, "--tail=-1"}, want: []string{"one", "two", "three"}},
		{name: "data dir from the environment", env: map[string]string{"MINI_DATA_DIR": data, "MINI_TAIL": "1"}, args: []string{"logs", "--config", os.DevNull}, want: []string{"three"}},
		{name: "missing named file", args: []string{"logs", "--config", config + ".missing"}, wantErr: config + ".missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			out, _, err := run(t, context.Background(), tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := lines(out); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("output %q, want %q", got, tt.want)
			}
		})
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("data-dir: /x\nnode-nmae: n1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := run(t, context.Background(), "status", "--config", bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `"node-nmae"`) {
		t.Errorf("unknown key: %v, want an error naming the file and the key", err)
	}
}
