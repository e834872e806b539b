package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MaxKeyLen bounds a key's length in bytes.
const MaxKeyLen = 4096

// Defaults for the zero fields of Config.
const (
	DefaultHistoryCount    = 10000
	DefaultHistoryAge      = 5 * time.Minute
	DefaultCompactInterval = 30 * time.Second
	DefaultWatchWindow     = 4096
	DefaultMaxBatch        = 512
)

// FileName is the store's file inside Config.Dir.
const FileName = "store.db"

var (
	bucketKV   = []byte("kv")
	bucketLog  = []byte("log")
	bucketMeta = []byte("meta")

	metaRevision = []byte("revision")
	metaCompact  = []byte("compacted")
)

// KV is a key's state at one revision. Value is shared with watchers and
// other readers of the same event: treat it as read-only.
type KV struct {
	Key            string
	Value          []byte
	CreateRevision int64 // revision of the create that started this key's life
	ModRevision    int64 // revision of the last write to the key
}

// Event is one committed write as a watcher sees it. Its revision is
// KV.ModRevision. For a delete, KV.Value is nil; Prev is the state before an
// update or delete and zero for a create.
type Event struct {
	Type EventType
	KV   KV
	Prev KV
}

// Revision is the event's revision.
func (e Event) Revision() int64 { return e.KV.ModRevision }

// Config configures a Store. Only Dir is required.
type Config struct {
	// Dir holds the store's file; it is created if missing.
	Dir string
	// HistoryCount and HistoryAge bound the history kept for watches and
	// past-revision lists: compaction drops events beyond the newest
	// HistoryCount and events older than HistoryAge.
	HistoryCount int64
	HistoryAge   time.Duration
	// CompactInterval is how often Run compacts.
	CompactInterval time.Duration
	// WatchWindow is the number of recent events kept in memory for
	// watchers; a watcher that falls this far behind is closed.
	WatchWindow int
	// MaxBatch bounds how many writes share one transaction.
	MaxBatch int
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.HistoryCount <= 0 {
		c.HistoryCount = DefaultHistoryCount
	}
	if c.HistoryAge <= 0 {
		c.HistoryAge = DefaultHistoryAge
	}
	if c.CompactInterval <= 0 {
		c.CompactInterval = DefaultCompactInterval
	}
	if c.WatchWindow <= 0 {
		c.WatchWindow = DefaultWatchWindow
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	// One commit publishes up to MaxBatch events at once; a batch larger
	// than half the window would lap watchers that keep up.
	c.MaxBatch = max(1, min(c.MaxBatch, c.WatchWindow/2))
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Store is the bbolt-backed MVCC key/value store. Its methods are safe for
// concurrent use.
type Store struct {
	cfg Config
	db  *bolt.DB
	log *slog.Logger

	// lifecycle guards closed; submitters and readers hold it shared so that
	// Close, which takes it exclusively, knows no one is mid-call.
	lifecycle sync.RWMutex
	closed    bool
	closing   chan struct{} // closed by Close: ends watchers waiting on consumers
	closeOnce sync.Once
	closeErr  error

	// writeErr, once a commit has failed, fails every later write: after a
	// failed fsync the file's state is unknown, so the store stops writing.
	writeErr atomic.Pointer[error]

	queue         chan *writeOp
	committerDone chan struct{}

	rev        atomic.Int64 // last committed revision
	compactRev atomic.Int64 // history at or below this revision is gone
	lastCommit int64        // unix nanos of the last commit; committer only
	commits    atomic.Int64 // transactions committed with at least one write
	writes     atomic.Int64 // writes committed

	events *ring
}

// Open opens (or creates) the store in cfg.Dir and starts its committer.
// Reopening after a crash yields exactly the acknowledged writes.
func Open(cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	if cfg.Dir == "" {
		return nil, errors.New("store: Config.Dir is required")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, err := bolt.Open(filepath.Join(cfg.Dir, FileName), 0o600, &bolt.Options{
		Timeout: 2 * time.Second, // another process holds the file lock
		// The freelist is rebuilt on open instead of written on every commit,
		// as etcd does: fewer pages per fsync.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", cfg.Dir, err)
	}
	// A new file's directory entry must be durable too, or the first
	// acknowledged writes could vanish with the file on power loss.
	if err := syncDir(cfg.Dir); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	s := &Store{
		cfg:           cfg,
		db:            db,
		log:           cfg.Logger.With("component", "store"),
		queue:         make(chan *writeOp, cfg.MaxBatch),
		committerDone: make(chan struct{}),
		closing:       make(chan struct{}),
	}
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	s.events = newRing(cfg.WatchWindow, s.rev.Load())
	go s.runCommitter()
	s.log.Debug("opened", "dir", cfg.Dir, "revision", s.rev.Load(), "compacted", s.compactRev.Load())
	return s, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// load creates the buckets on a new file and reads the revisions back.
func (s *Store) load() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketKV, bucketLog, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("store: create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		rev, err := metaInt(meta, metaRevision)
		if err != nil {
			return err
		}
		compacted, err := metaInt(meta, metaCompact)
		if err != nil {
			return err
		}
		if compacted > rev {
			return fmt.Errorf("%w: compacted revision %d beyond current %d", ErrCorrupt, compacted, rev)
		}
		if k, _ := tx.Bucket(bucketLog).Cursor().Last(); k != nil {
			last, err := parseRevKey(k)
			if err != nil {
				return err
			}
			if last != rev {
				return fmt.Errorf("%w: last logged revision %d, meta says %d", ErrCorrupt, last, rev)
			}
		}
		s.rev.Store(rev)
		s.compactRev.Store(compacted)
		return nil
	})
}

func metaInt(meta *bolt.Bucket, name []byte) (int64, error) {
	v := meta.Get(name)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: meta %s of %d bytes", ErrCorrupt, name, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// Close stops accepting operations, commits the writes already queued, ends
// every watcher with ErrClosed and closes the file. Every call returns once
// the file is closed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.lifecycle.Lock()
		s.closed = true
		close(s.queue) // no submitter is mid-send: they hold lifecycle shared
		close(s.closing)
		s.lifecycle.Unlock()
		<-s.committerDone
		s.events.close(ErrClosed)
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// Stats are counters for monitoring and tests.
type Stats struct {
	Revision        int64
	CompactRevision int64
	Commits         int64 // write transactions, each one fsync
	Writes          int64 // writes acknowledged; Writes/Commits is the mean group size
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{Revision: s.rev.Load(), CompactRevision: s.compactRev.Load(),
		Commits: s.commits.Load(), Writes: s.writes.Load()}
}

// Revision is the last committed revision.
func (s *Store) Revision() int64 { return s.rev.Load() }

// CompactRevision is the newest revision compaction has removed; watches and
// lists need a revision at or after it.
func (s *Store) CompactRevision() int64 { return s.compactRev.Load() }

// view runs fn in a read transaction unless the store is closed.
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	s.lifecycle.RLock()
	defer s.lifecycle.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return s.db.View(fn)
}

// Get returns the key's current state.
func (s *Store) Get(ctx context.Context, key string) (KV, error) {
	if err := validateKey(key); err != nil {
		return KV{}, err
	}
	if err := ctx.Err(); err != nil {
		return KV{}, err
	}
	var kv KV
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketKV).Get([]byte(key))
		if v == nil {
			return fmt.Errorf("%w: %s", ErrNotFound, key)
		}
		got, err := decodeKV(key, v)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		kv = got
		kv.Value = bytes.Clone(got.Value)
		return nil
	})
	return kv, err
}

// Create stores value under key if the key does not exist, and returns the
// new state.
func (s *Store) Create(ctx context.Context, key string, value []byte) (KV, error) {
	res := s.submit(ctx, &writeOp{kind: EventCreate, key: key, value: value})
	return res.kv, res.err
}

// Update replaces the key's value if its modify revision is expectedRev, or
// unconditionally if expectedRev is 0, and returns the new state. A stale
// expectedRev gives a *ConflictError (errors.Is ErrConflict).
func (s *Store) Update(ctx context.Context, key string, value []byte, expectedRev int64) (KV, error) {
	res := s.submit(ctx, &writeOp{kind: EventUpdate, key: key, value: value, expect: expectedRev})
	return res.kv, res.err
}

// Delete removes the key if its modify revision is expectedRev, or
// unconditionally if expectedRev is 0. It returns the deleted state and the
// revision of the delete.
func (s *Store) Delete(ctx context.Context, key string, expectedRev int64) (prev KV, rev int64, err error) {
	res := s.submit(ctx, &writeOp{kind: EventDelete, key: key, expect: expectedRev})
	return res.kv, res.rev, res.err
}

// validateKey rejects keys the store cannot order or page through: the
// continue token relies on key+"\x00" being the next possible key.
func validateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case key[0] != '/':
		return fmt.Errorf("%w: %q does not start with '/'", ErrInvalidKey, key)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidKey, len(key), MaxKeyLen)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("%w: %q contains a NUL byte", ErrInvalidKey, key)
	}
	return nil
}
