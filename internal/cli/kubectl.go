package cli

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/plugin"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// newKubectlCommand bundles the upstream kubectl. With no KUBECONFIG in the
// environment it talks to the cluster of the default data dir.
func newKubectlCommand(streams Streams) *cobra.Command {
	return &cobra.Command{
		Use:                "kubectl",
		Short:              "Run kubectl against the cluster",
		DisableFlagParsing: true, // every flag is kubectl's
		RunE: func(cmd *cobra.Command, args []string) error {
			io := genericiooptions.IOStreams{In: streams.In, Out: streams.Out, ErrOut: streams.Err}
			flags := genericclioptions.NewConfigFlags(true).WithDeprecatedPasswordFlag().
				WithDiscoveryBurst(300).WithDiscoveryQPS(50).WithWarningPrinter(io)
			if os.Getenv("KUBECONFIG") == "" {
				*flags.KubeConfig = filepath.Join(defaultDataDir, "kubeconfig.yaml")
			}
			kubectl := kubectlcmd.NewDefaultKubectlCommandWithArgs(kubectlcmd.KubectlOptions{
				PluginHandler: kubectlcmd.NewDefaultPluginHandler(plugin.ValidPluginFilenamePrefixes),
				Arguments:     append([]string{"kubectl"}, args...),
				ConfigFlags:   flags,
				IOStreams:     io,
			})
			kubectl.SetArgs(args)
			if err := kubectl.ExecuteContext(cmd.Context()); err != nil {
				// kubectl's own error report and exit codes, as its main does.
				cmdutil.CheckErr(err)
			}
			return nil
		},
	}
}
