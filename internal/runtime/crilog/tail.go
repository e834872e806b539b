package crilog

import (
	"bytes"
	"io"
)

// tailBlock is how much tailStart reads backwards at a time.
const tailBlock = 4096

// tailStart returns the offset at which the last n lines of f (size bytes)
// begin. As kubelet, it counts records in the file, not reassembled lines,
// and a final newline does not start an empty line.
func tailStart(f io.ReaderAt, size, n int64) (int64, error) {
	if n == 0 {
		return size, nil
	}
	buf := make([]byte, tailBlock)
	end := size
	// The file's last byte is normally the last record's newline; it
	// ends that record rather than separating it from a next one.
	if end > 0 {
		if _, err := f.ReadAt(buf[:1], end-1); err != nil {
			return 0, err
		}
		if buf[0] == '\n' {
			end--
		}
	}
	var seen int64
	for end > 0 {
		start := max(end-tailBlock, 0)
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && err != io.EOF {
			return 0, err
		}
		for {
			i := bytes.LastIndexByte(b, '\n')
			if i < 0 {
				break
			}
			seen++
			if seen == n {
				return start + int64(i) + 1, nil
			}
			b = b[:i]
		}
		end = start
	}
	return 0, nil
}
