package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The files kept in the data dir.
const (
	PIDFileName   = "mini.pid"
	LogFileName   = "mini.log"
	FlagsFileName = "mini.flags"
)

// ErrNotRunning is returned by Find when no server of the data dir runs.
var ErrNotRunning = errors.New("mini is not running")

// Server is a running server as its files describe it.
type Server struct {
	PID     int
	Started time.Time
	// Flags are the server flags it was started with, "--name=value"
	// (nil when unknown).
	Flags []string
}

// Find returns the server of dataDir, or ErrNotRunning (removing a stale
// pid file).
func Find(dataDir string) (Server, error) {
	pidFile := filepath.Join(dataDir, PIDFileName)
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return Server{}, ErrNotRunning
	}
	if err != nil {
		return Server{}, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return Server{}, fmt.Errorf("%s: %q is not a process ID", pidFile, strings.TrimSpace(string(b)))
	}
	if !IsServer(pid) {
		_ = os.Remove(pidFile)
		return Server{}, ErrNotRunning
	}
	s := Server{PID: pid}
	if st, err := os.Stat(pidFile); err == nil {
		s.Started = st.ModTime()
	}
	s.Flags, _ = ReadFlags(dataDir)
	return s, nil
}

// IsServer says whether pid is a live `mini server` process.
func IsServer(pid int) bool {
	if !Alive(pid) {
		return false
	}
	args, err := cmdline(pid)
	return err == nil && len(args) > 1 && args[1] == "server"
}

// Alive says whether pid runs (a zombie does not).
func Alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}

// flagsFile is mini.flags.
type flagsFile struct {
	Flags []string `json:"flags"`
}

// ReadFlags returns the flags the last server of dataDir was started
// with (os.ErrNotExist when none was started by Launch).
func ReadFlags(dataDir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, FlagsFileName))
	if err != nil {
		return nil, err
	}
	var f flagsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", FlagsFileName, err)
	}
	return f.Flags, nil
}

func writeFlags(dataDir string, flags []string) error {
	b, err := json.MarshalIndent(flagsFile{Flags: flags}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dataDir, FlagsFileName), append(b, '\n'), 0o600)
}

// signal sends sig to pid, saying so plainly when the caller may not.
func signal(pid int, sig syscall.Signal) error {
	err := syscall.Kill(pid, sig)
	if errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("not allowed to signal process %d (mini runs as root: try sudo): %w", pid, err)
	}
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
