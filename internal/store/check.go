package store

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Check verifies the file and the store's invariants: bbolt's own page
// check; every record decodes and passes its checksum; the log holds every
// revision from the compacted one to the current one; and the live keys are
// exactly what replaying the log's last event per key gives. Tests run it
// after every test; it reads the whole file, so it is not for hot paths.
func (s *Store) Check() error {
	return s.view(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("%w: bbolt check: %w", ErrCorrupt, errors.Join(errs...))
		}
		meta := tx.Bucket(bucketMeta)
		current, err := metaInt(meta, metaRevision)
		if err != nil {
			return err
		}
		compacted, err := metaInt(meta, metaCompact)
		if err != nil {
			return err
		}
		last := make(map[string]Event) // each key's newest logged event
		want := compacted + 1
		err = tx.Bucket(bucketLog).ForEach(func(k, v []byte) error {
			rev, err := parseRevKey(k)
			if err != nil {
				return err
			}
			if rev != want {
				return fmt.Errorf("%w: log has revision %d where %d was due", ErrCorrupt, rev, want)
			}
			want++
			rec, err := decodeLog(v)
			if err != nil {
				return fmt.Errorf("revision %d: %w", rev, err)
			}
			if prev, ok := last[rec.Key]; ok && (prev.Type == EventDelete) != (rec.Type == EventCreate) {
				return fmt.Errorf("%w: %s %s at %d follows %s", ErrCorrupt, rec.Key, rec.Type, rev, prev.Type)
			}
			last[rec.Key] = rec.event(rev)
			return nil
		})
		if err != nil {
			return err
		}
		if want != current+1 {
			return fmt.Errorf("%w: log ends at %d, current revision is %d", ErrCorrupt, want-1, current)
		}
		err = tx.Bucket(bucketKV).ForEach(func(k, v []byte) error {
			kv, err := decodeKV(string(k), v)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			if kv.ModRevision > current {
				return fmt.Errorf("%w: %s modified at %d, after current %d", ErrCorrupt, k, kv.ModRevision, current)
			}
			ev, logged := last[kv.Key]
			delete(last, kv.Key)
			switch {
			case !logged && kv.ModRevision > compacted:
				return fmt.Errorf("%w: %s modified at %d but not in the log", ErrCorrupt, k, kv.ModRevision)
			case logged && (ev.Type == EventDelete || ev.KV.ModRevision != kv.ModRevision ||
				ev.KV.CreateRevision != kv.CreateRevision || !bytes.Equal(ev.KV.Value, kv.Value)):
				return fmt.Errorf("%w: %s does not match its last event at %d", ErrCorrupt, k, ev.Revision())
			}
			return nil
		})
		if err != nil {
			return err
		}
		for key, ev := range last {
			if ev.Type != EventDelete {
				return fmt.Errorf("%w: %s was last written at %d but is missing", ErrCorrupt, key, ev.Revision())
			}
		}
		return nil
	})
}
