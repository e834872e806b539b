package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/server"
)

// newTokenCommand is `mini token`: print the server's join token, and
// `mini token create` to make more, as `k3s token` and `kubeadm token`.
func newTokenCommand(streams Streams) *cobra.Command {
	dataDir := defaultDataDir
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print the join token agents use to join this server (mini agent --join URL --token TOKEN)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := server.TokenFile(dataDir)
			tok, err := pki.ReadTokenFile(path)
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("no join token at %s: has `mini server --data-dir %s` started?", path, dataDir)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			_, err = fmt.Fprintln(streams.Out, tok)
			return err
		},
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", defaultDataDir, "directory holding the cluster's state")
	cmd.AddCommand(newTokenCreateCommand(streams, &dataDir))
	return cmd
}

func newTokenCreateCommand(streams Streams, dataDir *string) *cobra.Command {
	var ttl time.Duration
	var description string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create another join token through the API (admin kubeconfig <data-dir>/kubeconfig.yaml) and print it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ttl < 0 {
				return fmt.Errorf("--ttl %s is negative", ttl)
			}
			path := filepath.Join(*dataDir, "kubeconfig.yaml")
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("no admin kubeconfig at %s: is `mini server --data-dir %s` running?", path, *dataDir)
			}
			restCfg, err := clientcmd.BuildConfigFromFlags("", path)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			client, err := kubernetes.NewForConfig(restCfg)
			if err != nil {
				return err
			}
			// The token names the CA the kubeconfig trusts: the
			// server's, as agents will fetch it.
			tok, err := pki.NewToken(restCfg.CAData)
			if err != nil {
				return err
			}
			secret := tok.BootstrapSecret(ttl, description, time.Now())
			if _, err := client.CoreV1().Secrets(metav1.NamespaceSystem).Create(cmd.Context(), secret, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("creating the token: %w", err)
			}
			_, err = fmt.Fprintln(streams.Out, tok)
			return err
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid (0: forever)")
	cmd.Flags().StringVar(&description, "description", "created by mini token create", "what the token is for, kept in its Secret")
	return cmd
}
