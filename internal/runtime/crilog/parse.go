package crilog

import (
	"bytes"
	"fmt"
	"time"
)

// record is one parsed line of a CRI log file.
type record struct {
	timestamp time.Time
	stream    string
	// content ends with '\n' for a full (F) record, not for a P part, so
	// writing contents in order reassembles the container's output.
	content []byte
}

// parseRecord parses one CRI log line, with or without its newline. The
// tag may carry further ':'-separated fields, as the CRI format allows;
// only the first (F or P) matters.
func parseRecord(line []byte) (record, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	var r record
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return r, fmt.Errorf("crilog: timestamp not found in %q", line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return r, fmt.Errorf("crilog: unexpected timestamp %q: %w", ts, err)
	}
	r.timestamp = t
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return r, fmt.Errorf("crilog: stream type not found in %q", line)
	}
	switch s := string(stream); s {
	case Stdout, Stderr:
		r.stream = s
	default:
		return r, fmt.Errorf("crilog: unexpected stream type %q", stream)
	}
	tags, content, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return r, fmt.Errorf("crilog: log tag not found in %q", line)
	}
	tag, _, _ := bytes.Cut(tags, []byte{':'})
	switch string(tag) {
	case tagFull:
		r.content = append(append(make([]byte, 0, len(content)+1), content...), '\n')
	case tagPartial:
		r.content = append([]byte(nil), content...)
	default:
		return r, fmt.Errorf("crilog: unexpected log tag %q", tag)
	}
	return r, nil
}
