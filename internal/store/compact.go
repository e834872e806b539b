package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// compactChunk bounds the log entries one compaction transaction deletes, so
// that writers, which share bbolt's single write lock, wait only briefly.
const compactChunk = 4096

// Run compacts the history every CompactInterval until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.CompactInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_, err := s.Compact(ctx, time.Now())
			switch {
			case errors.Is(err, ErrClosed):
				return nil
			case err != nil && ctx.Err() == nil:
				s.log.Error("compaction failed", "err", err)
			}
		}
	}
}

// Compact drops the history beyond the newest HistoryCount events and older
// than HistoryAge at now, and returns the compacted revision.
func (s *Store) Compact(ctx context.Context, now time.Time) (int64, error) {
	cutoff := now.Add(-s.cfg.HistoryAge).UnixNano()
	for {
		if err := ctx.Err(); err != nil {
			return s.compactRev.Load(), err
		}
		done, err := s.compactChunk(cutoff)
		if err != nil || done {
			return s.compactRev.Load(), err
		}
	}
}

// compactChunk deletes up to compactChunk of the oldest log entries that are
// beyond the count or the age bound. It reports whether nothing is left to do.
func (s *Store) compactChunk(cutoff int64) (done bool, err error) {
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if s.closed {
		return true, ErrClosed
	}
	var compacted int64
	err = s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		current, err := metaInt(meta, metaRevision)
		if err != nil {
			return err
		}
		if compacted, err = metaInt(meta, metaCompact); err != nil {
			return err
		}
		byCount := current - s.cfg.HistoryCount
		c := tx.Bucket(bucketLog).Cursor()
		n := 0
		for k, v := c.First(); k != nil && n < compactChunk; k, v = c.First() {
			rev, err := parseRevKey(k)
			if err != nil {
				return err
			}
			if rev > byCount {
				rec, err := decodeLog(v)
				if err != nil {
					return fmt.Errorf("revision %d: %w", rev, err)
				}
				if rec.UnixNano >= cutoff {
					done = true
					break
				}
			}
			if err := c.Delete(); err != nil {
				return err
			}
			compacted = rev
			n++
		}
		if n < compactChunk {
			done = true
		}
		if n == 0 {
			return nil
		}
		return meta.Put(metaCompact, revKey(compacted))
	})
	if err != nil {
		return true, fmt.Errorf("store: compact: %w", err)
	}
	// Concurrent compactions may finish out of order; keep the newest.
	for cur := s.compactRev.Load(); compacted > cur && !s.compactRev.CompareAndSwap(cur, compacted); cur = s.compactRev.Load() {
	}
	return done, nil
}
