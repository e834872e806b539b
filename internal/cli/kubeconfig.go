package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newKubeconfigCommand(streams Streams) *cobra.Command {
	dataDir := defaultDataDir
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the admin kubeconfig of the cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := filepath.Join(dataDir, "kubeconfig.yaml")
			b, err := os.ReadFile(path)
			if os.IsNotExist(err) {
				return fmt.Errorf("no kubeconfig at %s: is `mini server --data-dir %s` running?", path, dataDir)
			}
			if err != nil {
				return err
			}
			_, err = streams.Out.Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir, "directory holding the cluster's state")
	return cmd
}
