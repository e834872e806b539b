// Package daemon runs `mini server` in the background for `mini start`
// and finds, stops and cleans up after it for `mini stop`, `mini status`
// and `mini delete`.
//
// Everything it knows lives in the data dir, so that any later command
// (run by the same user or by root) finds the same server:
//
//   - mini.pid: the server's process ID, written when it is launched;
//     its modification time is the server's start time;
//   - mini.flags: the server flags it was launched with (JSON), so that
//     a second `mini start` can tell whether it asks for the same server;
//   - mini.log: the server's stdout and stderr, appended to by every
//     start.
//
// The server runs in a session of its own (setsid), so that the terminal
// that started it can close, and a Ctrl-C there does not reach it.
// Processes are found by reading /proc; a PID is only trusted while its
// command line is still a `mini server` one, so a stale pid file whose
// PID was reused is recognised as stale.
package daemon
