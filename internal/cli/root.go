package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"mini.dev/mini/internal/version"
)

// Streams are the command's standard input and outputs.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// Main runs mini with the process's arguments and exits with its status.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := catchPanic(os.TempDir(), func() error {
		return Run(ctx, os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, oneLine(err))
		os.Exit(1)
	}
}

// catchPanic runs fn (the command) and turns a panic of its goroutine
// into an error: the user gets one line, and the stack goes to a file in
// stackDir for a bug report. (A panic in another goroutine cannot be
// caught here; the runtime prints it.)
func catchPanic(stackDir string, fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError(v, debug.Stack(), stackDir)
		}
	}()
	return fn()
}

func panicError(v any, stack []byte, dir string) error {
	where := "its stack trace could not be saved"
	f, ferr := os.CreateTemp(dir, "mini-panic-*.txt")
	if ferr == nil {
		_, ferr = fmt.Fprintf(f, "mini %s: panic: %v\n\n%s", version.Mini(), v, stack)
		if ferr = errors.Join(ferr, f.Close()); ferr == nil {
			where = "its stack trace is in " + f.Name()
		} else {
			os.Remove(f.Name()) // a cut-short trace (a full disk) helps no one
		}
	}
	return fmt.Errorf("internal error (a bug in mini): %v; %s (please attach it to a bug report)", v, where)
}

// oneLine is how an error is shown: "mini: ..." on one line, whatever
// the error holds (errors.Join separates with newlines).
func oneLine(err error) string {
	return "mini: " + strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
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
