package store

// On-disk encodings. Every record ends with a CRC-32C of the bytes before it,
// so a torn or corrupted page is reported as ErrCorrupt instead of being
// served as an object. Decoders return slices that alias their input: a caller
// that keeps a value past the bbolt transaction must copy it.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

const (
	recordFormat = 1 // first byte of every record; bump on incompatible change
	crcLen       = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EventType says what a write did to its key.
type EventType uint8

const (
	EventCreate EventType = iota + 1
	EventUpdate
	EventDelete
)

func (t EventType) String() string {
	switch t {
	case EventCreate:
		return "CREATE"
	case EventUpdate:
		return "UPDATE"
	case EventDelete:
		return "DELETE"
	}
	return fmt.Sprintf("EventType(%d)", uint8(t))
}

// revKey is the log bucket key of a revision: big-endian, so that bbolt's byte
// order is revision order.
func revKey(rev int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(rev))
	return b[:]
}

func parseRevKey(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: revision key of %d bytes", ErrCorrupt, len(b))
	}
	rev := int64(binary.BigEndian.Uint64(b))
	if rev <= 0 {
		return 0, fmt.Errorf("%w: revision %d", ErrCorrupt, rev)
	}
	return rev, nil
}

// encodeKV encodes a live key's record: format, create and modify revision,
// value, checksum. The key itself is the bucket key.
func encodeKV(createRev, modRev int64, value []byte) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(value)+crcLen)
	b = append(b, recordFormat)
	b = binary.AppendUvarint(b, uint64(createRev))
	b = binary.AppendUvarint(b, uint64(modRev))
	b = append(b, value...)
	return appendCRC(b)
}

// decodeKV is the inverse of encodeKV; the returned value aliases data.
func decodeKV(key string, data []byte) (KV, error) {
	body, err := checkCRC(data)
	if err != nil {
		return KV{}, err
	}
	r := reader{b: body}
	r.format()
	create := r.rev()
	mod := r.rev()
	if r.err != nil {
		return KV{}, r.err
	}
	if create > mod {
		return KV{}, fmt.Errorf("%w: create revision %d after modify revision %d", ErrCorrupt, create, mod)
	}
	return KV{Key: key, Value: r.b, CreateRevision: create, ModRevision: mod}, nil
}

// logRecord is one event as the log bucket stores it. The event's own revision
// is the bucket key; the previous state is kept for updates and deletes because
// watchers and past-revision lists need it after the key has moved on.
type logRecord struct {
	Type       EventType
	UnixNano   int64 // commit time, for age-based compaction
	Key        string
	CreateRev  int64
	Value      []byte // new value; nil for deletes
	PrevModRev int64  // 0 for creates
	PrevValue  []byte // nil for creates
}

func encodeLog(rec logRecord) []byte {
	n := 2 + 5*binary.MaxVarintLen64 + len(rec.Key) + len(rec.Value) + len(rec.PrevValue) + crcLen
	b := make([]byte, 0, n)
	b = append(b, recordFormat, byte(rec.Type))
	b = binary.AppendVarint(b, rec.UnixNano)
	b = binary.AppendUvarint(b, uint64(len(rec.Key)))
	b = append(b, rec.Key...)
	b = binary.AppendUvarint(b, uint64(rec.CreateRev))
	b = binary.AppendUvarint(b, uint64(len(rec.Value)))
	b = append(b, rec.Value...)
	b = binary.AppendUvarint(b, uint64(rec.PrevModRev))
	b = append(b, rec.PrevValue...)
	return appendCRC(b)
}

// decodeLog is the inverse of encodeLog; the returned slices alias data.
func decodeLog(data []byte) (logRecord, error) {
	body, err := checkCRC(data)
	if err != nil {
		return logRecord{}, err
	}
	r := reader{b: body}
	r.format()
	var rec logRecord
	rec.Type = EventType(r.byte())
	rec.UnixNano = r.varint()
	rec.Key = string(r.bytes())
	rec.CreateRev = r.rev()
	rec.Value = r.bytes()
	rec.PrevModRev = r.uvarint()
	rec.PrevValue = r.b
	if r.err != nil {
		return logRecord{}, r.err
	}
	switch rec.Type {
	case EventCreate:
		if rec.PrevModRev != 0 || len(rec.PrevValue) != 0 {
			return logRecord{}, fmt.Errorf("%w: create event with a previous value", ErrCorrupt)
		}
		rec.PrevValue = nil
	case EventUpdate:
	case EventDelete:
		if len(rec.Value) != 0 {
			return logRecord{}, fmt.Errorf("%w: delete event with a value", ErrCorrupt)
		}
		rec.Value = nil
	default:
		return logRecord{}, fmt.Errorf("%w: event type %d", ErrCorrupt, rec.Type)
	}
	if rec.Type != EventCreate && (rec.PrevModRev <= 0 || rec.PrevModRev < rec.CreateRev) {
		return logRecord{}, fmt.Errorf("%w: previous revision %d", ErrCorrupt, rec.PrevModRev)
	}
	return rec, nil
}

// event turns a log record at revision rev into the Event watchers receive.
func (rec logRecord) event(rev int64) Event {
	ev := Event{Type: rec.Type, KV: KV{Key: rec.Key, Value: rec.Value, CreateRevision: rec.CreateRev, ModRevision: rev}}
	if rec.Type == EventCreate {
		ev.KV.CreateRevision = rev
	} else {
		ev.Prev = KV{Key: rec.Key, Value: rec.PrevValue, CreateRevision: rec.CreateRev, ModRevision: rec.PrevModRev}
	}
	return ev
}

func appendCRC(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func checkCRC(data []byte) ([]byte, error) {
	if len(data) < 1+crcLen {
		return nil, fmt.Errorf("%w: record of %d bytes", ErrCorrupt, len(data))
	}
	body, sum := data[:len(data)-crcLen], data[len(data)-crcLen:]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(sum) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return body, nil
}

// reader decodes a record front to back and remembers the first error, so a
// decoder reads straight through and checks once.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated or malformed %s", ErrCorrupt, what)
	}
	r.b = nil
}

func (r *reader) format() {
	if v := r.byte(); r.err == nil && v != recordFormat {
		r.err = fmt.Errorf("%w: unknown record format %d", ErrCorrupt, v)
	}
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail("byte")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uvarint() int64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<62 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return int64(v)
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// rev reads a revision, which is always positive.
func (r *reader) rev() int64 {
	v := r.uvarint()
	if r.err == nil && v <= 0 {
		r.err = fmt.Errorf("%w: revision %d", ErrCorrupt, v)
	}
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > int64(len(r.b)) {
		r.fail("length-prefixed field")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}
