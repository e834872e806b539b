package cli

// Flags from a file and from the environment, as k3s takes them.
//
// A machine that runs mini as a service keeps its settings in
// /etc/mini/config.yaml (or the file --config or $MINI_CONFIG names): one
// key per flag, by its long name, a list for a repeated flag. The
// environment gives MINI_<FLAG> (MINI_NODE_NAME for --node-name). Before a
// command runs, every flag not given on its command line is taken from the
// environment, else from the file, else keeps its default; values go
// through FlagSet.Set, so pflag parses them exactly as it parses arguments.
//
// One file serves every command: a key that is a flag of another mini
// command (server's --sim-nodes, read by `mini status`) is left alone; a key
// that is no command's flag is a typo and stops the command, as k3s does.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

const (
	// defaultConfigFile is read when it exists and no other file is named.
	defaultConfigFile = "/etc/mini/config.yaml"
	configFlag        = "config"
	configEnv         = "MINI_CONFIG"
	envPrefix         = "MINI_"
	// noConfigAnnotation marks commands whose flags are not taken from the
	// file or the environment: `mini install` writes the flags it is given
	// into a unit, and the service reads the file itself when it runs.
	noConfigAnnotation = "mini.dev/no-config"
)

// addConfigFlag gives the root --config and, for every command it runs,
// the flags the file and the environment hold.
func addConfigFlag(root *cobra.Command) {
	root.PersistentFlags().String(configFlag, "",
		"file of flags by their long names (default "+defaultConfigFile+" when it exists; or $"+configEnv+")")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		// kubectl parses its own flags.
		if cmd.DisableFlagParsing || cmd.Annotations[noConfigAnnotation] != "" {
			return nil
		}
		fs := cmd.Flags()
		if err := absConfigPath(fs); err != nil {
			return err
		}
		path, named := configPath(fs, os.Getenv)
		file, err := readConfigFile(path, named)
		if err != nil {
			return err
		}
		return applyFlagSources(fs, knownFlags(cmd.Root()), os.Getenv, file, path)
	}
}

// configPath is the file to read and whether the user named it (then it
// must exist).
func configPath(fs *pflag.FlagSet, getenv func(string) string) (string, bool) {
	if f := fs.Lookup(configFlag); f != nil && f.Changed {
		return f.Value.String(), true
	}
	if p := getenv(configEnv); p != "" {
		return p, true
	}
	return defaultConfigFile, false
}

// readConfigFile reads a file of flags: a map from names to values (nil
// when an unnamed default file does not exist).
func readConfigFile(path string, named bool) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !named {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// Numbers stay as written: an int64 flag must not pass through float64.
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: not a map of flag names to values", path)
	}
	return m, nil
}

// knownFlags are the long names of every flag of every mini command.
func knownFlags(root *cobra.Command) map[string]bool {
	known := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { known[f.Name] = true })
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return known
}

// envName is the variable that sets a flag: MINI_NODE_NAME for node-name.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyFlagSources sets each flag of fs not given on the command line from
// the environment, else from file (read from path). known are the flags of
// all commands; a file key outside them is an error.
func applyFlagSources(fs *pflag.FlagSet, known map[string]bool, getenv func(string) string, file map[string]any, path string) error {
	given := map[string]bool{}
	fs.Visit(func(f *pflag.Flag) { given[f.Name] = true })

	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || given[f.Name] || f.Name == configFlag || f.Name == "help" {
			return
		}
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("$%s: %w", name, e)
			}
		}
	})
	if err != nil {
		return err
	}

	keys := make([]string, 0, len(file))
	for k := range file {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if key == configFlag {
			return fmt.Errorf("%s: %q cannot be set in a config file", path, key)
		}
		f := fs.Lookup(key)
		if f == nil {
			if known[key] {
				continue // another command's flag
			}
			return fmt.Errorf("%s: unknown key %q: not a flag of any mini command (keys are long flag names, like node-name)", path, key)
		}
		if f.Changed {
			continue // the command line or the environment gave it
		}
		values, err := configValues(file[key])
		if err != nil {
			return fmt.Errorf("%s: %s: %w", path, key, err)
		}
		if _, repeated := f.Value.(pflag.SliceValue); len(values) > 1 && !repeated {
			return fmt.Errorf("%s: %s: a list, but --%s takes one value", path, key, key)
		}
		for _, v := range values {
			if err := fs.Set(key, v); err != nil {
				return fmt.Errorf("%s: %s: %w", path, key, err)
			}
		}
	}
	return nil
}

// configValues are a file value as the arguments it stands for: one for a
// scalar, one per item for a list.
func configValues(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		s, err := configScalar(v)
		return []string{s}, err
	}
	values := make([]string, 0, len(list))
	for _, item := range list {
		s, err := configScalar(item)
		if err != nil {
			return nil, err
		}
		values = append(values, s)
	}
	return values, nil
}

func configScalar(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	case nil:
		return "", nil
	default:
		return "", errors.New("a value must be a string, number, boolean or a list of them")
	}
}

// absConfigPath makes a relative --config absolute, so that `mini start`
// can pass it on to a server that runs elsewhere.
func absConfigPath(fs *pflag.FlagSet) error {
	f := fs.Lookup(configFlag)
	if f == nil || !f.Changed || filepath.IsAbs(f.Value.String()) {
		return nil
	}
	abs, err := filepath.Abs(f.Value.String())
	if err != nil {
		return err
	}
	return fs.Set(configFlag, abs)
}
