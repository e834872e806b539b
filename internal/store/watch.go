package store

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

const (
	watchChanSize = 128 // events queued for a consumer before the watcher waits
	watchReadMax  = 256 // events taken from the ring or the log per step
)

// Watcher delivers, in revision order, every event under its prefix after
// the revision it started from.
type Watcher struct {
	ch       chan Event
	cancel   context.CancelFunc
	err      error        // why the watcher ended; written before ch is closed
	progress atomic.Int64 // every event up to this revision is on ch or delivered
}

// Progress is a revision up to which every event under the prefix has been
// put on Events. A consumer that reads Progress and then finds Events empty
// has received every event up to it: the revision is a safe bookmark.
func (w *Watcher) Progress() int64 { return w.progress.Load() }

// Events is closed when the watcher ends; then Err says why.
func (w *Watcher) Events() <-chan Event { return w.ch }

// Err is nil after Stop or the end of the watch's context, and otherwise the
// reason the watcher ended: ErrWatcherTooSlow, ErrCompacted, ErrClosed or a
// read error. Call it only after Events is closed.
func (w *Watcher) Err() error { return w.err }

// Stop ends the watcher and releases its goroutine.
func (w *Watcher) Stop() { w.cancel() }

// Watch delivers every event on keys starting with prefix whose revision is
// greater than afterRev (the resourceVersion semantics of Kubernetes). Events
// older than the in-memory window are replayed from the log first. A revision
// older than the compacted history gives ErrCompacted.
func (s *Store) Watch(ctx context.Context, prefix string, afterRev int64) (*Watcher, error) {
	if afterRev < 0 {
		return nil, fmt.Errorf("%w: negative watch revision %d", ErrInvalidArgument, afterRev)
	}
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	if err := s.checkCompacted(afterRev); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{ch: make(chan Event, watchChanSize), cancel: cancel}
	w.progress.Store(afterRev)
	go w.run(ctx, s, prefix, afterRev+1)
	return w, nil
}

func (s *Store) checkCompacted(rev int64) error {
	if c := s.compactRev.Load(); rev < c {
		return fmt.Errorf("%w: revision %d, history starts after %d", ErrCompacted, rev, c)
	}
	return nil
}

// run moves events to the consumer. next is the first revision not yet
// looked at. Until the watcher has caught up with the ring it replays the
// log; once live, being lapped by the ring means the consumer is too slow.
func (w *Watcher) run(ctx context.Context, s *Store, prefix string, next int64) {
	defer close(w.ch)
	defer w.cancel()
	live := false
	buf := make([]Event, 0, watchReadMax)
	for {
		res := s.events.read(next, prefix, buf[:0], watchReadMax)
		var events []Event
		switch {
		case res.err != nil:
			w.err = res.err
			return
		case res.behind && live:
			w.err = fmt.Errorf("%w: revision %d left the %d-event window", ErrWatcherTooSlow, next, len(s.events.buf))
			return
		case res.behind:
			var err error
			events, next, err = s.readLog(next, prefix, buf[:0], watchReadMax)
			if err != nil {
				w.err = err
				return
			}
		default:
			live = true
			events, next = res.events, res.next
		}
		for _, ev := range events {
			select {
			case w.ch <- ev:
			case <-ctx.Done():
				return
			case <-s.closing:
				w.err = ErrClosed
				return
			}
		}
		clear(events) // delivered: do not keep their values alive while idle
		w.progress.Store(next - 1)
		if len(events) == 0 && !res.behind {
			select {
			case <-res.wait:
			case <-ctx.Done():
				return
			case <-s.closing:
				w.err = ErrClosed
				return
			}
		}
	}
}

// readLog reads up to max events under prefix from the log, from revision
// next on, and returns them with the next revision to read.
func (s *Store) readLog(next int64, prefix string, dst []Event, max int) ([]Event, int64, error) {
	err := s.view(func(tx *bolt.Tx) error {
		compacted, err := metaInt(tx.Bucket(bucketMeta), metaCompact)
		if err != nil {
			return err
		}
		if next-1 < compacted {
			return fmt.Errorf("%w: revision %d, history starts after %d", ErrCompacted, next-1, compacted)
		}
		c := tx.Bucket(bucketLog).Cursor()
		scanned := 0
		for k, v := c.Seek(revKey(next)); k != nil && scanned < max; k, v = c.Next() {
			rev, err := parseRevKey(k)
			if err != nil {
				return err
			}
			if rev != next {
				return fmt.Errorf("%w: log jumps from revision %d to %d", ErrCorrupt, next-1, rev)
			}
			rec, err := decodeLog(v)
			if err != nil {
				return fmt.Errorf("revision %d: %w", rev, err)
			}
			if hasPrefix(rec.Key, prefix) {
				rec.Value, rec.PrevValue = bytes.Clone(rec.Value), bytes.Clone(rec.PrevValue)
				dst = append(dst, rec.event(rev))
			}
			next++
			scanned++
		}
		return nil
	})
	return dst, next, err
}
