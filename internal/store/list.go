package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// ListOptions select the snapshot and the page of a List.
type ListOptions struct {
	// Revision to read at; 0 reads the current revision.
	Revision int64
	// Limit is the most keys to return; 0 returns all.
	Limit int64
	// Continue resumes a paged list where the previous page ended, at that
	// page's revision.
	Continue string
}

// ListResult is one page of a List.
type ListResult struct {
	KVs []KV
	// Revision is the snapshot the page was read at; later pages read the
	// same snapshot.
	Revision int64
	// Continue is set when more keys remain; pass it back for the next page.
	Continue string
}

// List returns the keys starting with prefix, in key order, as one
// consistent snapshot. A past revision (explicit, or carried by a continue
// token) must not be older than the compacted history.
func (s *Store) List(ctx context.Context, prefix string, opts ListOptions) (ListResult, error) {
	if err := validateKey(prefix); err != nil {
		return ListResult{}, fmt.Errorf("prefix: %w", err)
	}
	if opts.Limit < 0 || opts.Revision < 0 {
		return ListResult{}, fmt.Errorf("%w: negative limit %d or revision %d", ErrInvalidArgument, opts.Limit, opts.Revision)
	}
	if err := ctx.Err(); err != nil {
		return ListResult{}, err
	}
	rev, start := opts.Revision, prefix
	if opts.Continue != "" {
		tokRev, tokStart, err := parseContinue(opts.Continue, prefix)
		if err != nil {
			return ListResult{}, err
		}
		if rev != 0 && rev != tokRev {
			return ListResult{}, fmt.Errorf("%w: token is for revision %d, not %d", ErrInvalidContinue, tokRev, rev)
		}
		rev, start = tokRev, tokStart
	}
	var res ListResult
	err := s.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		current, err := metaInt(meta, metaRevision)
		if err != nil {
			return err
		}
		compacted, err := metaInt(meta, metaCompact)
		if err != nil {
			return err
		}
		if rev == 0 {
			rev = current
		}
		switch {
		case rev > current:
			return fmt.Errorf("%w: revision %d, current is %d", ErrFutureRevision, rev, current)
		case rev < compacted:
			return fmt.Errorf("%w: revision %d, history starts after %d", ErrCompacted, rev, compacted)
		}
		var past map[string]*KV
		if rev < current {
			if past, err = undoSince(tx, rev, prefix, start); err != nil {
				return err
			}
		}
		res, err = readPage(tx.Bucket(bucketKV).Cursor(), past, prefix, start, opts.Limit)
		res.Revision = rev
		return err
	})
	if err != nil {
		return ListResult{}, err
	}
	if res.Continue != "" {
		res.Continue = encodeContinue(rev, prefix, res.Continue)
	}
	return res, nil
}

// undoSince reads the log after rev and returns, for every key under prefix
// from start on that has changed since, its state at rev: nil if it did not
// exist then. The returned values alias the transaction's pages.
func undoSince(tx *bolt.Tx, rev int64, prefix, start string) (map[string]*KV, error) {
	past := make(map[string]*KV)
	c := tx.Bucket(bucketLog).Cursor()
	for k, v := c.Seek(revKey(rev + 1)); k != nil; k, v = c.Next() {
		rec, err := decodeLog(v)
		if err != nil {
			return nil, fmt.Errorf("revision %x: %w", k, err)
		}
		if !hasPrefix(rec.Key, prefix) || rec.Key < start {
			continue
		}
		if _, seen := past[rec.Key]; seen {
			continue // the first event after rev holds the state at rev
		}
		if rec.Type == EventCreate {
			past[rec.Key] = nil
		} else {
			past[rec.Key] = &KV{Key: rec.Key, Value: rec.PrevValue, CreateRevision: rec.CreateRev, ModRevision: rec.PrevModRev}
		}
	}
	return past, nil
}

// readPage merges the live keys from start on with the past states of the
// keys that changed since the snapshot, and returns up to limit of them. Its
// Continue is the raw next key when more remain.
func readPage(c *bolt.Cursor, past map[string]*KV, prefix, start string, limit int64) (ListResult, error) {
	changed := make([]string, 0, len(past))
	for key := range past {
		changed = append(changed, key)
	}
	slices.Sort(changed)

	var page pageBuilder
	under := []byte(prefix)
	k, v := c.Seek([]byte(start))
	for {
		live := k != nil && bytes.HasPrefix(k, under)
		if len(changed) > 0 && (!live || changed[0] <= string(k)) {
			key := changed[0]
			changed = changed[1:]
			if live && key == string(k) {
				k, v = c.Next() // the live record is newer than the snapshot
			}
			if kv := past[key]; kv != nil && !add(&page, kv.Key, *kv, limit) {
				break
			}
			continue
		}
		if !live {
			break
		}
		kv, err := decodeKV("", v)
		if err != nil {
			return ListResult{}, fmt.Errorf("%s: %w", k, err)
		}
		if !add(&page, k, kv, limit) {
			break
		}
		k, v = c.Next()
	}
	return page.result(), nil
}

// The blocks a page's values are copied into start at the first value's
// size and double up to arenaMax, so a short page pins no more than it
// returns and a long one needs few allocations.
const arenaMax = 256 << 10

// pageBuilder copies a page's keys and values out of the transaction in a
// few large allocations instead of two per key: a 10,000-key list is
// allocation-bound otherwise.
type pageBuilder struct {
	kvs    []KV
	keys   []byte // every key, back to back; cut into strings by result
	ends   []int  // end offset of each key in keys
	values []byte // current value block
	more   bool
}

// add appends kv under key unless the page already holds limit keys, in
// which case it records that more remain and returns false.
func add[K string | []byte](p *pageBuilder, key K, kv KV, limit int64) bool {
	if limit > 0 && int64(len(p.kvs)) == limit {
		p.more = true
		return false
	}
	p.keys = append(p.keys, key...)
	p.ends = append(p.ends, len(p.keys))
	if len(kv.Value) > cap(p.values)-len(p.values) {
		next := min(arenaMax, 2*cap(p.values))
		p.values = make([]byte, 0, max(next, len(kv.Value)))
	}
	from := len(p.values)
	p.values = append(p.values, kv.Value...)
	kv.Value = p.values[from:len(p.values):len(p.values)] // full slice: an append cannot reach the next value
	p.kvs = append(p.kvs, kv)
	return true
}

func (p *pageBuilder) result() ListResult {
	all := string(p.keys) // one copy; each key is a substring of it
	from := 0
	for i, end := range p.ends {
		p.kvs[i].Key = all[from:end]
		from = end
	}
	res := ListResult{KVs: p.kvs}
	if p.more {
		res.Continue = p.kvs[len(p.kvs)-1].Key + "\x00"
	}
	return res
}
