package cli

// `mini install server|agent [flags]` makes mini a systemd service, as
// k3s's install script does: the binary in /usr/local/bin, a unit that runs
// it with the flags given, the join token in an environment file only root
// reads (so it shows neither in the unit nor in `ps`), and the unit enabled
// and started.
//
// The unit follows k3s's, but Type=exec: Type=notify would need mini to call
// sd_notify. Delegate=yes hands the cgroup subtree to the runtime,
// KillMode=process, as k3s's, stops mini alone when the service restarts,
// not the containers of its pods, and the modprobes load what the pod network and
// the snapshotter need where modules are not loaded on demand.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// installOptions are install's own flags.
type installOptions struct {
	unitDir, binDir string
	noStart         bool
}

// installSpec is what one install writes.
type installSpec struct {
	role     string   // "server" or "agent"
	unit     string   // mini.service or mini-agent.service
	exec     string   // the binary the unit runs
	args     []string // the role's flags, as given
	envFile  string   // path of the unit's environment file
	tokenEnv string   // the environment file's content, if any
}

func newInstallCommand(streams Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "install server|agent [flags]",
		Short: "Install mini as a systemd service that runs `mini server` or `mini agent` with the flags given",
	}
	cmd.AddCommand(
		newInstallRoleCommand(streams, "server", "mini.service", newServerCommand(streams)),
		newInstallRoleCommand(streams, "agent", "mini-agent.service", newAgentCommand(streams)),
	)
	return cmd
}

func newInstallRoleCommand(streams Streams, role, unit string, target *cobra.Command) *cobra.Command {
	var o installOptions
	cmd := &cobra.Command{
		Use:   role + " [" + role + " flags]",
		Short: "Install and start " + unit + ", running `mini " + role + "` with the flags given",
		Args:  cobra.NoArgs,
		// The unit gets the flags given here; the service reads the config
		// file and the environment itself when it runs.
		Annotations: map[string]string{noConfigAnnotation: "true"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInstall(streams, role, unit, o, cmd.Flags())
		},
	}
	// The role's flags, so that a mistyped one fails now, not at boot.
	cmd.Flags().AddFlagSet(target.Flags())
	cmd.Flags().StringVar(&o.unitDir, "unit-dir", "/etc/systemd/system", "where the unit is written")
	cmd.Flags().StringVar(&o.binDir, "bin-dir", "/usr/local/bin", "where the mini binary is installed")
	cmd.Flags().BoolVar(&o.noStart, "no-start", false, "write the unit, but neither enable nor start it")
	return cmd
}

func runInstall(streams Streams, role, unit string, o installOptions, fs *pflag.FlagSet) error {
	spec := installSpec{role: role, unit: unit, envFile: filepath.Join(o.unitDir, unit+".env")}
	token := ""
	fs.Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "unit-dir", "bin-dir", "no-start":
			return
		case "token":
			token = f.Value.String()
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				spec.args = append(spec.args, "--"+f.Name+"="+v)
			}
			return
		}
		spec.args = append(spec.args, "--"+f.Name+"="+f.Value.String())
	})
	sort.Strings(spec.args)
	if role == "agent" {
		if token == "" {
			token = os.Getenv(tokenEnv)
		}
		if token == "" {
			return fmt.Errorf("a join token is required: --token or $%s (run `mini token` on the server)", tokenEnv)
		}
		if strings.ContainsAny(token, "\n\r") {
			return errors.New("--token: must be one line")
		}
		spec.tokenEnv = tokenEnv + "=" + envFileQuote(token) + "\n"
	}

	exe, copied, err := installBinary(o.binDir)
	if err != nil {
		return err
	}
	spec.exec = exe
	if copied {
		fmt.Fprintf(streams.Out, "Installed %s\n", exe)
	}
	if err := os.MkdirAll(o.unitDir, 0o755); err != nil {
		return err
	}
	if spec.tokenEnv != "" {
		if err := writeFileAtomic(spec.envFile, []byte(spec.tokenEnv), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(streams.Out, "Wrote %s (the join token, mode 0600)\n", spec.envFile)
	}
	unitPath := filepath.Join(o.unitDir, unit)
	if err := writeFileAtomic(unitPath, []byte(renderUnit(spec)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(streams.Out, "Wrote %s\n", unitPath)

	systemctl, err := exec.LookPath("systemctl")
	switch {
	case o.noStart:
		fmt.Fprintf(streams.Out, "Not started (--no-start): systemctl daemon-reload && systemctl enable --now %s\n", unit)
		return nil
	case err != nil:
		fmt.Fprintf(streams.Out, "No systemctl here: enable and start %s with this machine's service manager\n", unit)
		return nil
	}
	for _, args := range [][]string{{"daemon-reload"}, {"enable", "--now", unit}} {
		fmt.Fprintf(streams.Out, "Running systemctl %s\n", strings.Join(args, " "))
		c := exec.Command(systemctl, args...)
		c.Stdout, c.Stderr = streams.Out, streams.Err
		if err := c.Run(); err != nil {
			return fmt.Errorf("systemctl %s: %w (see journalctl -u %s)", strings.Join(args, " "), err, unit)
		}
	}
	fmt.Fprintf(streams.Out, "%s is running; it starts at boot. Logs: journalctl -u %s -f\n", unit, unit)
	return nil
}

// installBinary puts the running binary at binDir/mini, unless it already
// runs from there, and returns that path and whether it copied.
func installBinary(binDir string) (string, bool, error) {
	self, err := os.Executable()
	if err != nil {
		return "", false, err
	}
	if self, err = filepath.EvalSymlinks(self); err != nil {
		return "", false, err
	}
	if binDir, err = filepath.Abs(binDir); err != nil {
		return "", false, err
	}
	dst := filepath.Join(binDir, "mini")
	if real, err := filepath.EvalSymlinks(dst); err == nil && real == self {
		return dst, false, nil
	}
	src, err := os.Open(self)
	if err != nil {
		return "", false, err
	}
	defer src.Close()
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", false, err
	}
	// A new file renamed into place: a running mini keeps its old binary.
	tmp, err := os.CreateTemp(binDir, ".mini-*")
	if err != nil {
		return "", false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return "", false, fmt.Errorf("copying %s to %s: %w", self, dst, err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", false, err
	}
	if err := tmp.Close(); err != nil {
		return "", false, err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", false, err
	}
	return dst, true, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// renderUnit is the systemd unit of spec.
func renderUnit(spec installSpec) string {
	var b strings.Builder
	fmt.Fprintf(&b, `[Unit]
Description=mini %s: a Kubernetes-compatible cluster from one binary
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=exec
EnvironmentFile=-%s
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=%s %s`, spec.role, systemdQuote(spec.envFile), systemdQuote(spec.exec), spec.role)
	for _, a := range spec.args {
		fmt.Fprintf(&b, " \\\n\t%s", systemdQuote(a))
	}
	b.WriteString("\n")
	return b.String()
}

// systemdQuote makes s one word of a unit's command line, and keeps it
// literal: systemd expands %specifiers and $VARIABLES there, and splits at
// white space unless quoted.
func systemdQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	s = strings.ReplaceAll(s, "$", "$$")
	plain := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@+%$", r)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// envFileQuote makes s one value of an environment file, which systemd
// reads with shell-like quoting.
func envFileQuote(s string) string {
	if systemdQuote(s) == s {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`")
	return `"` + r.Replace(s) + `"`
}
