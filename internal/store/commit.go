package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// writeOp is one queued write and the channel its result comes back on.
type writeOp struct {
	kind   EventType
	key    string
	value  []byte
	expect int64 // expected modify revision for update/delete; 0 = any
	done   chan writeResult
}

type writeResult struct {
	kv  KV    // new state (create/update) or deleted state (delete)
	rev int64 // revision the write got
	err error
}

// submit queues op for the committer and waits for its durable result. Once
// queued, a write is not abandoned when ctx ends: the caller would not know
// whether it happened, and it is only a commit away.
func (s *Store) submit(ctx context.Context, op *writeOp) writeResult {
	if err := validateKey(op.key); err != nil {
		return writeResult{err: err}
	}
	if err := ctx.Err(); err != nil {
		return writeResult{err: err}
	}
	if op.kind != EventDelete {
		// The caller keeps its slice; ours is shared with watchers.
		op.value = bytes.Clone(op.value)
		if op.value == nil {
			op.value = []byte{}
		}
	}
	op.done = make(chan writeResult, 1)
	if err := s.writeErr.Load(); err != nil {
		return writeResult{err: *err}
	}
	s.lifecycle.RLock()
	if s.closed {
		s.lifecycle.RUnlock()
		return writeResult{err: ErrClosed}
	}
	s.queue <- op
	s.lifecycle.RUnlock()
	return <-op.done
}

// runCommitter is the only writer of the kv and log buckets. Each round takes
// every queued write (up to MaxBatch) into one transaction, so concurrent
// writers share one fsync.
func (s *Store) runCommitter() {
	defer close(s.committerDone)
	batch := make([]*writeOp, 0, s.cfg.MaxBatch)
	for op := range s.queue {
		batch = append(batch[:0], op)
	drain:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case next, ok := <-s.queue:
				if !ok {
					break drain
				}
				batch = append(batch, next)
			default:
				break drain
			}
		}
		s.commit(batch)
		clear(batch) // drop the values until the next batch
	}
}

// commit applies a batch in one transaction. A write whose precondition
// fails gets its own error and no revision; the others go ahead. If the
// transaction itself fails, every write in it fails and nothing is published.
func (s *Store) commit(batch []*writeOp) {
	if err := s.writeErr.Load(); err != nil {
		for _, op := range batch {
			op.done <- writeResult{err: *err}
		}
		return
	}
	now := time.Now().UnixNano()
	if now < s.lastCommit {
		now = s.lastCommit // keep log times monotonic for age compaction
	}
	results := make([]writeResult, len(batch))
	events := make([]Event, 0, len(batch))
	rev := s.rev.Load()
	err := s.db.Update(func(tx *bolt.Tx) error {
		kvs, logs := tx.Bucket(bucketKV), tx.Bucket(bucketLog)
		for i, op := range batch {
			ev, err := checkWrite(kvs, op, rev+1)
			if err != nil {
				results[i].err = err
				continue
			}
			if err := writeKV(kvs, ev); err != nil {
				return fmt.Errorf("store: write %s: %w", op.key, err)
			}
			rec := logRecord{Type: ev.Type, UnixNano: now, Key: op.key, CreateRev: ev.KV.CreateRevision,
				Value: ev.KV.Value, PrevModRev: ev.Prev.ModRevision, PrevValue: ev.Prev.Value}
			if err := logs.Put(revKey(rev+1), encodeLog(rec)); err != nil {
				return fmt.Errorf("store: log revision %d: %w", rev+1, err)
			}
			rev++
			events = append(events, ev)
			results[i] = writeResult{kv: ev.KV, rev: rev}
			if ev.Type == EventDelete {
				results[i].kv = ev.Prev
			}
		}
		if len(events) == 0 {
			return nil
		}
		return tx.Bucket(bucketMeta).Put(metaRevision, revKey(rev))
	})
	if err != nil {
		s.log.Error("commit failed; the store takes no more writes", "writes", len(batch), "err", err)
		failed := fmt.Errorf("%w: %w", ErrWriteFailed, err)
		if errors.Is(err, syscall.ENOSPC) {
			// The one failure a user can fix: say where.
			failed = fmt.Errorf("%w: no space left on device for the data dir %s (free some space, then restart mini): %w", ErrWriteFailed, s.cfg.Dir, err)
		}
		s.writeErr.Store(&failed)
		err = failed
		for i := range results {
			results[i] = writeResult{err: err}
		}
	} else if len(events) > 0 {
		s.lastCommit = now
		s.rev.Store(rev)
		s.commits.Add(1)
		s.writes.Add(int64(len(events)))
		s.events.publish(events)
	}
	for i, op := range batch {
		op.done <- results[i]
	}
}

// checkWrite checks op's precondition against the key's current record and
// returns the event op makes at revision rev. Errors it returns belong to op
// alone; it writes nothing.
func checkWrite(kvs *bolt.Bucket, op *writeOp, rev int64) (Event, error) {
	raw := kvs.Get([]byte(op.key))
	if op.kind == EventCreate {
		if raw != nil {
			return Event{}, fmt.Errorf("%w: %s", ErrExists, op.key)
		}
		return Event{Type: EventCreate, KV: KV{Key: op.key, Value: op.value, CreateRevision: rev, ModRevision: rev}}, nil
	}
	if raw == nil {
		return Event{}, fmt.Errorf("%w: %s", ErrNotFound, op.key)
	}
	cur, err := decodeKV(op.key, raw)
	if err != nil {
		return Event{}, fmt.Errorf("%s: %w", op.key, err)
	}
	cur.Value = bytes.Clone(cur.Value) // raw lives in the transaction's pages
	if op.expect != 0 && op.expect != cur.ModRevision {
		return Event{}, &ConflictError{Key: op.key, Expected: op.expect, Current: cur}
	}
	if op.kind == EventDelete {
		return Event{Type: EventDelete, KV: KV{Key: op.key, CreateRevision: cur.CreateRevision, ModRevision: rev}, Prev: cur}, nil
	}
	return Event{Type: EventUpdate, KV: KV{Key: op.key, Value: op.value, CreateRevision: cur.CreateRevision, ModRevision: rev}, Prev: cur}, nil
}

// writeKV makes the kv bucket hold the state after ev.
func writeKV(kvs *bolt.Bucket, ev Event) error {
	if ev.Type == EventDelete {
		return kvs.Delete([]byte(ev.KV.Key))
	}
	return kvs.Put([]byte(ev.KV.Key), encodeKV(ev.KV.CreateRevision, ev.KV.ModRevision, ev.KV.Value))
}
