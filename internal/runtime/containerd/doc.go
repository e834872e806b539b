// Package containerd is the real backend of runtime.Runtime: pods and
// containers run under containerd (through its Go client) and runc.
//
// Design notes:
//   - No pause container. A sandbox is a containerd container record
//     without a task whose labels hold everything the agent needs after a
//     restart (state, IPs, netns path, attempt, creation time); its network
//     namespace is made by the Network the agent wires in.
//   - A container is a containerd container plus, once started, a task.
//     Its state lives in its labels (started, finished, exit code, reason),
//     written when the task exits; the task is then deleted so that no
//     shim lingers for dead containers. containerd therefore holds the
//     whole truth and a restarted agent needs nothing of its own.
//   - Container stdio goes through FIFOs under <DataDir>/containerd/fifo,
//     read by goroutines in this process that write CRI log files. The shim
//     keeps the FIFOs open, so an agent killed and started again re-attaches
//     to them and loses nothing.
//   - Exits are learnt from containerd's event stream (/tasks/exit,
//     /tasks/oom) and re-checked on every (re)connection, so exits that
//     happened while the agent was away are recorded too.
//   - With no Address, Run starts and supervises a private containerd
//     whose config, root, state and socket live under the data dir, in its
//     own namespace, so that a containerd the user runs is never touched.
package containerd
