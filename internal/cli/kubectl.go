package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/plugin"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// newKubectlCommand bundles the upstream kubectl. With no KUBECONFIG in the
// environment it talks to the cluster of the data dir the other commands
// use: $MINI_DATA_DIR, else the config file's data-dir, else the default.
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
				dataDir, err := kubectlDataDir(os.Getenv)
				if err != nil {
					return err
				}
				*flags.KubeConfig = adminKubeconfig(dataDir)
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

// kubectlDataDir is the data dir whose admin kubeconfig kubectl uses.
// kubectl parses its own flags, so the file and the environment are read
// here as the other commands read them for their --data-dir.
func kubectlDataDir(getenv func(string) string) (string, error) {
	if dir := getenv(envName("data-dir")); dir != "" {
		return dir, nil
	}
	path, named := defaultConfigFile, false
	if p := getenv(configEnv); p != "" {
		path, named = p, true
	}
	file, err := readConfigFile(path, named)
	if err != nil {
		return "", err
	}
	v, ok := file["data-dir"]
	if !ok {
		return defaultDataDir, nil
	}
	dir, err := configScalar(v)
	if err != nil || dir == "" {
		return "", fmt.Errorf("%s: data-dir: want a directory", path)
	}
	return dir, nil
}
