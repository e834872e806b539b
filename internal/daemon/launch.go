package daemon

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config says what Launch starts.
type Config struct {
	DataDir string
	// Executable is the mini binary; Args its arguments ("server", flags).
	Executable string
	Args       []string
	// Flags are recorded in mini.flags for a later start to compare.
	Flags []string
}

// Process is a server Launch started.
type Process struct {
	PID     int
	Started time.Time
	// LogOffset is where this run's lines begin in mini.log.
	LogOffset int64
	done      chan struct{}
	err       error
}

// Exited is closed if the server exits while this process (the one that
// launched it) still runs; Err then says how.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Err is the server's exit status once Exited is closed.
func (p *Process) Err() error { return p.err }

// Launch starts the server in a session of its own with its output
// appended to mini.log, writes mini.pid and mini.flags, and returns at
// once.
func Launch(cfg Config) (*Process, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	logPath := filepath.Join(cfg.DataDir, LogFileName)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	offset, err := logFile.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logFile, "--- mini %s (started %s)\n", strings.Join(cfg.Args, " "), time.Now().Format(time.RFC3339))
	cmd := exec.Command(cfg.Executable, cfg.Args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = "/"
	// Its own session: no controlling terminal, no Ctrl-C from ours, and
	// it outlives us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cfg.Executable, err)
	}
	p := &Process{PID: cmd.Process.Pid, Started: started, LogOffset: offset, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	err = errors.Join(
		os.WriteFile(filepath.Join(cfg.DataDir, PIDFileName), []byte(strconv.Itoa(p.PID)+"\n"), 0o644),
		writeFlags(cfg.DataDir, cfg.Flags))
	if err != nil {
		_ = cmd.Process.Kill()
		<-p.done
		return nil, err
	}
	return p, nil
}

// LogTail returns the last n lines of mini.log from offset on.
func LogTail(dataDir string, offset int64, n int) ([]string, error) {
	f, err := os.Open(filepath.Join(dataDir, LogFileName))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return LastLines(string(b), n), nil
}

// LastLines returns the last n lines of s (all of them when n < 0).
func LastLines(s string, n int) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	if n >= 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
