// Package cli holds mini's commands, one file per subcommand. Each command
// parses its flags into a small options struct and calls into a component;
// only Main exits the process.
package cli
