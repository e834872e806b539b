package store

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzKVCodec: any record encodeKV makes decodes back to itself, and no
// input makes decodeKV panic or accept a record with a wrong checksum.
func FuzzKVCodec(f *testing.F) {
	f.Add(int64(1), int64(1), []byte("value"), []byte{})
	f.Add(int64(3), int64(1<<40), []byte{}, []byte{1, 2, 3})
	f.Add(int64(1), int64(2), []byte("x"), encodeKV(1, 2, []byte("x")))
	f.Fuzz(func(t *testing.T, create, mod int64, value, garbage []byte) {
		if create > 0 && mod >= create && mod < 1<<62 {
			kv, err := decodeKV("/k", encodeKV(create, mod, value))
			if err != nil {
				t.Fatalf("decode of encoded record: %v", err)
			}
			if kv.CreateRevision != create || kv.ModRevision != mod || !bytes.Equal(kv.Value, value) {
				t.Fatalf("round trip: got %+v", kv)
			}
		}
		if _, err := decodeKV("/k", garbage); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("garbage gave %v, want ErrCorrupt", err)
		}
		if len(garbage) > 0 {
			// A flipped bit anywhere is caught.
			rec := encodeKV(1, 1, garbage)
			rec[int(garbage[0])%len(rec)] ^= 1 << (garbage[len(garbage)-1] % 8)
			if _, err := decodeKV("/k", rec); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("flipped bit not detected: %v", err)
			}
		}
	})
}

// FuzzLogCodec does the same for log records.
func FuzzLogCodec(f *testing.F) {
	f.Add(uint8(EventCreate), int64(12345), "/registry/pods/a", int64(1), []byte("v"), int64(0), []byte(nil), []byte{})
	f.Add(uint8(EventUpdate), int64(-1), "/k", int64(2), []byte("new"), int64(3), []byte("old"), []byte{9})
	f.Add(uint8(EventDelete), int64(0), "/k", int64(2), []byte(nil), int64(2), []byte("old"), encodeLog(logRecord{Type: EventDelete, Key: "/k", CreateRev: 1, PrevModRev: 1}))
	f.Fuzz(func(t *testing.T, typ uint8, nanos int64, key string, create int64, value []byte, prevMod int64, prevValue, garbage []byte) {
		rec := logRecord{Type: EventType(typ), UnixNano: nanos, Key: key, CreateRev: create, Value: value, PrevModRev: prevMod, PrevValue: prevValue}
		got, err := decodeLog(encodeLog(rec))
		if err == nil {
			if got.Type != rec.Type || got.UnixNano != nanos || got.Key != key || got.CreateRev != create ||
				!bytes.Equal(got.Value, value) || got.PrevModRev != prevMod || !bytes.Equal(got.PrevValue, prevValue) {
				t.Fatalf("round trip: got %+v, want %+v", got, rec)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decode of encoded record: %v", err)
		}
		valid := create > 0 && create < 1<<62 && prevMod >= 0 && prevMod < 1<<62 &&
			(rec.Type == EventCreate && prevMod == 0 && len(prevValue) == 0 ||
				rec.Type == EventUpdate && prevMod >= create ||
				rec.Type == EventDelete && prevMod >= create && len(value) == 0)
		if valid && err != nil {
			t.Fatalf("valid record rejected: %v (%+v)", err, rec)
		}
		if _, err := decodeLog(garbage); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("garbage gave %v, want ErrCorrupt", err)
		}
	})
}

// FuzzParseContinue: no token makes the parser panic, every accepted token
// resumes inside the prefix, and every token List hands out parses back.
func FuzzParseContinue(f *testing.F) {
	f.Add("/registry/pods/", encodeContinue(7, "/registry/pods/", "/registry/pods/default/a\x00"))
	f.Add("/registry/", "eyJ2IjoibWluaS5zdG9yZS92MSIsInJ2IjoxLCJzdGFydCI6Ii4uLyJ9")
	f.Add("/", "")
	f.Add("/x/", "%%%")
	f.Fuzz(func(t *testing.T, prefix, token string) {
		rev, start, err := parseContinue(token, prefix)
		if err != nil {
			if !errors.Is(err, ErrInvalidContinue) {
				t.Fatalf("error %v does not wrap ErrInvalidContinue", err)
			}
		} else {
			if rev <= 0 || len(start) < len(prefix) || start[:len(prefix)] != prefix {
				t.Fatalf("accepted token resumes at %q rev %d outside prefix %q", start, rev, prefix)
			}
		}
		if validateKey(prefix) != nil {
			return
		}
		next := prefix + "k\x00"
		rev, start, err = parseContinue(encodeContinue(42, prefix, next), prefix)
		if err != nil || rev != 42 || start != next {
			t.Fatalf("round trip: %d %q %v", rev, start, err)
		}
	})
}
