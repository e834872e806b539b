package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Stopped says how a server stopped.
type Stopped struct {
	PID    int
	Took   time.Duration
	Killed bool // it outlived the timeout and got SIGKILL
}

// Stop sends the server of dataDir SIGTERM, waits up to timeout for it
// to exit, then kills it, and removes mini.pid. It returns ErrNotRunning
// when no server runs.
func Stop(ctx context.Context, dataDir string, timeout time.Duration) (Stopped, error) {
	srv, err := Find(dataDir)
	if err != nil {
		return Stopped{}, err
	}
	started := time.Now()
	st := Stopped{PID: srv.PID}
	if err := signal(srv.PID, syscall.SIGTERM); err != nil {
		return st, err
	}
	if !waitGone(ctx, []int{srv.PID}, timeout) {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		st.Killed = true
		// The whole session: the server and whatever it started.
		_ = syscall.Kill(-srv.PID, syscall.SIGKILL)
		_ = signal(srv.PID, syscall.SIGKILL)
		waitGone(ctx, []int{srv.PID}, 10*time.Second)
	}
	st.Took = time.Since(started)
	if err := os.Remove(filepath.Join(dataDir, PIDFileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return st, err
	}
	return st, nil
}

// waitGone polls until every pid is gone or timeout passes; it says
// whether they all went. (They are not our children: there is nothing to
// wait on but /proc.)
func waitGone(ctx context.Context, pids []int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		alive := false
		for _, pid := range pids {
			if Alive(pid) {
				alive = true
				break
			}
		}
		if !alive {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}
