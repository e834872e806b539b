package cli

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// trimMemory gives back, once the server is up, memory that start-up used
// and will not use again: the heap freed after bootstrap, and the pages of
// the binary's code and read-only data that only ran once (package
// initialization of everything linked in, the bundled kubectl above all).
// Those pages are clean copies of the executable file: the kernel drops
// them and reads back any that are needed again. A server that links
// kubectl keeps only its working set resident instead of most of its
// 80 MB binary.
func trimMemory() {
	debug.FreeOSMemory()
	exe, err := os.Executable()
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		bounds := strings.SplitN(fields[0], "-", 2)
		start, err1 := strconv.ParseUint(bounds[0], 16, 64)
		end, err2 := strconv.ParseUint(bounds[1], 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		// Advice only: an older kernel without MADV_PAGEOUT says EINVAL.
		syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_PAGEOUT)
	}
}
