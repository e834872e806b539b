package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Streams are the command's standard input and outputs.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// Main runs mini with the process's arguments and exits with its status.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mini:", err)
		os.Exit(1)
	}
}

// Run runs one mini command line; it is what tests call.
func Run(ctx context.Context, args []string, streams Streams) error {
	root := newRootCommand(streams)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

func newRootCommand(streams Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "mini",
		Short: "mini runs a Kubernetes-compatible cluster from one binary",
		// Errors are printed once, by Main, as one line.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	root.AddCommand(
		newServerCommand(streams),
		newAgentCommand(streams),
		newTokenCommand(streams),
		newKubectlCommand(streams),
		newKubeconfigCommand(streams),
		newImageCommand(streams),
		newVersionCommand(streams),
		newStartCommand(streams), newStopCommand(streams), newStatusCommand(streams), newLogsCommand(streams), newDeleteCommand(streams),
		newInstallCommand(streams),
	)
	addConfigFlag(root)
	return root
}
