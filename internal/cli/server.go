package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"mini.dev/mini/internal/store"
)

// serverOptions are the flags of `mini server`.
type serverOptions struct {
	dataDir         string
	historyCount    int64
	historyAge      time.Duration
	compactInterval time.Duration
	watchWindow     int
	verbose         bool
}

func newServerCommand(streams Streams) *cobra.Command {
	o := serverOptions{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the cluster's control plane (today: the store)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if o.verbose {
				level = slog.LevelDebug
			}
			logger := slog.New(slog.NewTextHandler(streams.Err, &slog.HandlerOptions{Level: level}))
			return runServer(cmd.Context(), o, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", "/var/lib/mini", "directory holding the cluster's state")
	f.Int64Var(&o.historyCount, "history-count", store.DefaultHistoryCount, "events of history kept for watches and paged lists")
	f.DurationVar(&o.historyAge, "history-age", store.DefaultHistoryAge, "age past which history is compacted")
	f.DurationVar(&o.compactInterval, "compact-interval", store.DefaultCompactInterval, "how often history is compacted")
	f.IntVar(&o.watchWindow, "watch-window", store.DefaultWatchWindow, "recent events kept in memory for watchers")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log debug messages")
	return cmd
}

// runServer wires the components and runs them until ctx ends.
func runServer(ctx context.Context, o serverOptions, logger *slog.Logger) error {
	started := time.Now()
	st, err := store.Open(store.Config{
		Dir:             o.dataDir,
		HistoryCount:    o.historyCount,
		HistoryAge:      o.historyAge,
		CompactInterval: o.compactInterval,
		WatchWindow:     o.watchWindow,
		Logger:          logger,
	})
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	defer st.Close()
	logger.Info("store ready", "component", "server", "dir", o.dataDir,
		"revision", st.Revision(), "took", time.Since(started).Round(time.Microsecond))

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return st.Run(ctx) })
	err = g.Wait()
	logger.Info("stopped", "component", "server")
	return err
}
