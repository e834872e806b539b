package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"mini.dev/mini/internal/version"
)

func newVersionCommand(streams Streams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print mini's version and the Kubernetes version it serves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kube := version.Get()
			switch output {
			case "":
				fmt.Fprintf(streams.Out, "mini version %s\nKubernetes %s\n%s %s\n",
					version.Mini(), kube.GitVersion, kube.GoVersion, kube.Platform)
				return nil
			case "json":
				enc := json.NewEncoder(streams.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Mini       string `json:"mini"`
					Kubernetes any    `json:"kubernetes"`
				}{version.Mini(), kube})
			}
			return fmt.Errorf("--output must be json or empty, not %q", output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return cmd
}
