package cli

import (
	"io"
	"log/slog"
)

// newLogger is the text logger `mini server` and `mini agent` write to
// standard error: info, or debug with -v.
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
