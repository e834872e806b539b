package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mini.dev/mini/internal/daemon"
)

func newLogsCommand(streams Streams) *cobra.Command {
	dataDir := defaultDataDir
	var follow bool
	var tail int
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Print the log of the server mini start started",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := absDataDir(dataDir)
			if err != nil {
				return err
			}
			return runLogs(cmd.Context(), streams.Out, filepath.Join(dir, daemon.LogFileName), tail, follow, 200*time.Millisecond)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir, "directory holding the cluster's state")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing lines as they are written")
	cmd.Flags().IntVar(&tail, "tail", -1, "print only the last N lines (-1: all)")
	return cmd
}

// runLogs prints the log (its last tail lines) and, following, what is
// appended until ctx ends; a log that shrinks was truncated and is read
// again from its start.
func runLogs(ctx context.Context, out io.Writer, path string, tail int, follow bool, poll time.Duration) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no log at %s: mini start writes it (is this the right --data-dir?)", path)
	}
	if err != nil {
		return err
	}
	if lines := daemon.LastLines(string(b), tail); len(lines) > 0 {
		fmt.Fprintln(out, strings.Join(lines, "\n"))
	}
	if !follow {
		return nil
	}
	pos := int64(len(b))
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		f, err := os.Open(path)
		if err != nil {
			continue // between a delete and the next start
		}
		if st, err := f.Stat(); err == nil && st.Size() < pos {
			pos = 0
		}
		if _, err := f.Seek(pos, io.SeekStart); err == nil {
			n, _ := io.Copy(out, f)
			pos += n
		}
		f.Close()
	}
}
