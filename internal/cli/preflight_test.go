package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"mini.dev/mini/internal/store"
)

// Each error a user meets is one line with a hint; these are the texts.

func TestRequireRoot(t *testing.T) {
	want := "start must run as root (mini runs containers and sets up the pod network): try sudo mini start"
	if err := requireRootAs(1000, "start"); err == nil || err.Error() != want {
		t.Errorf("as a user: %v, want %q", err, want)
	}
	if err := requireRootAs(0, "start"); err != nil {
		t.Errorf("as root: %v", err)
	}
}

func TestCheckRuntimeInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	want := "containerd is not installed: run scripts/install-deps.sh, or apt-get install containerd runc"
	if err := checkRuntimeInstalled(); err == nil || err.Error() != want {
		t.Errorf("without containerd: %v, want %q", err, want)
	}
}

func TestDataDirFormat(t *testing.T) {
	for _, tc := range []struct {
		name    string
		marker  string // "" = none
		wantErr string
		// wantMarker is the marker after a recording check.
		wantMarker dataDirVersion
	}{
		{name: "new data dir", wantMarker: dataDirVersion{2, "v1.2.0"}},
		{name: "same", marker: `{"format":2,"mini":"v1.2.0"}`, wantMarker: dataDirVersion{2, "v1.2.0"}},
		{name: "older format is upgraded", marker: `{"format":1,"mini":"v1.0.0"}`, wantMarker: dataDirVersion{2, "v1.2.0"}},
		{name: "newer format", marker: `{"format":3,"mini":"v2.0.0"}`,
			wantErr: "data dir DIR was written by mini v2.0.0 (format 3); this mini v1.2.0 reads format ≤ 2: use the newer mini or another --data-dir"},
		{name: "not a marker", marker: `<html>`, wantErr: "DIR/version is not mini's format marker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if tc.marker != "" {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, versionFileName), []byte(tc.marker), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, record := range []bool{false, true} {
				err := checkFormat(dir, record, 2, "v1.2.0")
				want := strings.ReplaceAll(tc.wantErr, "DIR", dir)
				if want == "" && err != nil || want != "" && (err == nil || !strings.HasPrefix(err.Error(), want)) {
					t.Fatalf("record=%v: %v, want %q", record, err, want)
				}
			}
			if tc.wantErr != "" {
				return
			}
			var got dataDirVersion
			b, err := os.ReadFile(filepath.Join(dir, versionFileName))
			if err == nil {
				err = json.Unmarshal(b, &got)
			}
			if err != nil || got != tc.wantMarker {
				t.Errorf("marker %+v (%v), want %+v", got, err, tc.wantMarker)
			}
		})
	}
}

func TestDiskSpace(t *testing.T) {
	statfs := func(free uint64) func(string, *unix.Statfs_t) error {
		return func(_ string, st *unix.Statfs_t) error {
			st.Bsize, st.Frsize, st.Bavail = 4096, 4096, free/4096
			return nil
		}
	}
	var asked string
	d := diskSpace{statfs: statfs(40 << 20), mountPoint: func(p string) string { asked = p; return "/var" }}
	// The data dir does not exist yet: its parent's filesystem is asked.
	parent := t.TempDir()
	dataDir := filepath.Join(parent, "a", "b")
	err := d.check(dataDir)
	want := "disk full: only 40 MiB free on /var (data dir " + dataDir + "); mini needs at least 100 MiB"
	if err == nil || err.Error() != want {
		t.Errorf("40 MiB free: %v, want %q", err, want)
	}
	if asked != parent {
		t.Errorf("asked about %q, want the existing parent %q", asked, parent)
	}
	d.statfs = statfs(200 << 20)
	if err := d.check(dataDir); err != nil {
		t.Errorf("200 MiB free: %v", err)
	}
	d.statfs = func(string, *unix.Statfs_t) error { return errors.New("no statfs") }
	if err := d.check(dataDir); err != nil {
		t.Errorf("statfs failing: %v", err)
	}
}

// TestDiskFull fills a real 2 MiB tmpfs: start refuses it, and a store
// on it that runs out of space says so, naming its data dir.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts a tmpfs: needs root")
	}
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", mnt, err)
		}
	})
	dataDir := filepath.Join(mnt, "data")
	err := checkDiskSpace(dataDir)
	want := "disk full: only 2 MiB free on " + mnt + " (data dir " + dataDir + "); mini needs at least 100 MiB"
	if err == nil || err.Error() != want {
		t.Errorf("start check on a 2 MiB tmpfs: %v, want %q", err, want)
	}

	st, err := store.Open(store.Config{Dir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	value := bytes.Repeat([]byte("x"), 256<<10)
	for i := 0; ; i++ {
		_, err = st.Create(context.Background(), "/registry/big/"+strconv.Itoa(i), value)
		if err != nil {
			break
		}
		if i > 100 {
			t.Fatal("wrote 25 MiB to a 2 MiB tmpfs")
		}
	}
	if !errors.Is(err, store.ErrWriteFailed) || !errors.Is(err, unix.ENOSPC) ||
		!strings.Contains(err.Error(), "no space left on device for the data dir "+dataDir) {
		t.Errorf("write on a full disk: %v", err)
	}
}

// TestPreflightErrors: start, server and agent refuse a data dir from a
// newer mini with the same one line, before they start anything.
func TestPreflightErrors(t *testing.T) {
	dataDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dataDir, versionFileName), []byte(`{"format":99,"mini":"v9.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	want := "data dir " + dataDir + " was written by mini v9.0.0 (format 99); this mini "
	for _, args := range [][]string{
		{"start", "--disable-agent", "--https-listen-port", "0"},
		{"server", "--disable-agent", "--https-listen-port", "0"},
		{"agent", "--join", "https://127.0.0.1:1", "--token", "K10x::server:y"},
	} {
		_, _, err := run(t, context.Background(), append(args, "--data-dir", dataDir)...)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("mini %s: %v, want %q...", args[0], err, want)
		}
	}
}

func TestCatchPanic(t *testing.T) {
	dir := t.TempDir()
	err := catchPanic(dir, func() error { panic("boom") })
	if err == nil {
		t.Fatal("no error from a panic")
	}
	line := oneLine(err)
	files, _ := filepath.Glob(filepath.Join(dir, "mini-panic-*.txt"))
	if len(files) != 1 {
		t.Fatalf("stack files %v", files)
	}
	want := "mini: internal error (a bug in mini): boom; its stack trace is in " + files[0] + " (please attach it to a bug report)"
	if line != want {
		t.Errorf("panic shown as %q, want %q", line, want)
	}
	if b, _ := os.ReadFile(files[0]); !bytes.Contains(b, []byte("TestCatchPanic")) {
		t.Errorf("stack file lacks the stack: %s", b)
	}
	if err := catchPanic(dir, func() error { return nil }); err != nil {
		t.Errorf("no panic: %v", err)
	}
}

func TestOneLine(t *testing.T) {
	err := errors.Join(errors.New("first"), errors.New("second\n  indented"))
	if got, want := oneLine(err), "mini: first; second; indented"; got != want {
		t.Errorf("oneLine = %q, want %q", got, want)
	}
}

// TestMainPrintsOneLine runs the binary as a user does: an error is one
// line, "mini: ...", and the exit code is 1.
func TestMainPrintsOneLine(t *testing.T) {
	cmd := exec.Command(os.Args[0], "server", "--no-such-flag")
	cmd.Env = append(os.Environ(), "MINI_CLI_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || string(out) != "mini: unknown flag: --no-such-flag\n" {
		t.Errorf("exit %v, output %q", err, out)
	}
}
