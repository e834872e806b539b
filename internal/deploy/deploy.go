package deploy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/dynamic"
)

// Defaults for Config fields left zero.
const (
	DefaultResync = time.Minute
	DefaultPoll   = 500 * time.Millisecond
)

// Config is what the deploy controller needs.
type Config struct {
	// Client applies and deletes objects; it must be allowed to write
	// anything a manifest holds (the server gives it system:masters).
	Client dynamic.Interface
	// Mapper maps kinds to resources from discovery; it is reset when a
	// kind is not found (e.g. restmapper.NewDeferredDiscoveryRESTMapper).
	Mapper meta.ResettableRESTMapper
	// Builtin holds the built-in manifests at its top level (nil: none).
	Builtin fs.FS
	// Dir is <data-dir>/manifests, created on start ("" = none).
	Dir string
	// Disabled names manifests to leave out and clean up (--disable).
	Disabled []string
	// Vars are the %{NAME}% template variables of built-in manifests.
	Vars map[string]string
	// Resync is how often every manifest is applied again, so that an
	// object deleted by hand comes back (default a minute).
	Resync time.Duration
	// Poll is how often Dir is looked at for changes (default half a
	// second); a change is applied once a poll finds the file unchanged
	// since the previous one, so a file caught half-written waits.
	Poll   time.Duration
	Logger *slog.Logger
}

// Deployer is the deploy controller.
type Deployer struct {
	cfg      Config
	log      *slog.Logger
	disabled map[string]bool

	// Owned by Run's goroutine.
	rec         record                // nil until read from the API
	files       map[string]*fileState // by source key
	missing     map[string]bool       // recorded sources not found at the last poll
	mapperReset bool                  // the mapper was reset in this round
	recDirty    bool                  // rec holds changes not yet saved
	loopErr     string                // the last error of sync itself, logged once
	unreadErr   string                // the last error reading Dir, logged once
}

// fileState is what the deployer knows of one source between polls.
type fileState struct {
	seen    fileSig // at the last poll
	done    fileSig // when last applied, successfully or not
	tried   bool
	hash    [sha256.Size]byte // content last applied successfully
	applied bool
	lastErr string // problems last logged, so that a broken file is logged once
}

// New checks cfg; it starts nothing.
func New(cfg Config) (*Deployer, error) {
	if cfg.Client == nil || cfg.Mapper == nil {
		return nil, errors.New("deploy: Client and Mapper are required")
	}
	if cfg.Resync <= 0 {
		cfg.Resync = DefaultResync
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	disabled := map[string]bool{}
	for _, n := range cfg.Disabled {
		if n == "" {
			return nil, errors.New("--disable: an empty name")
		}
		disabled[n] = true
	}
	return &Deployer{cfg: cfg, log: cfg.Logger.With("component", "deploy"), disabled: disabled,
		files: map[string]*fileState{}, missing: map[string]bool{}}, nil
}

// Run applies the manifests and keeps them applied until ctx ends.
func (d *Deployer) Run(ctx context.Context) error {
	if d.cfg.Dir != "" {
		if err := os.MkdirAll(d.cfg.Dir, 0o755); err != nil {
			d.log.Error("cannot make the manifests directory", "dir", d.cfg.Dir, "err", err)
		}
	}
	tick := time.NewTicker(d.cfg.Poll)
	defer tick.Stop()
	var lastFull time.Time
	first := true
	for {
		full := first || time.Since(lastFull) >= d.cfg.Resync
		err := d.sync(ctx, full, first)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if msg := err.Error(); msg != d.loopErr {
				d.log.Error("manifests not synced", "err", err)
				d.loopErr = msg
			}
		default:
			d.loopErr = ""
		}
		if full && d.rec != nil { // the pass ran, even if the record was not written back
			lastFull, first = time.Now(), false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// sync brings the cluster in line with the manifests. full applies every
// manifest, changed or not; initial is the first pass, which also
// applies files without waiting for them to settle and cleans up files
// removed while the server was down.
func (d *Deployer) sync(ctx context.Context, full, initial bool) error {
	if d.rec == nil {
		rec, err := d.loadRecord(ctx)
		if err != nil {
			return err
		}
		d.rec = rec
	}
	sc, err := scanSources(d.cfg.Builtin, d.cfg.Dir, d.disabled)
	if err != nil {
		return fmt.Errorf("reading %s: %w", d.cfg.Dir, err)
	}
	if sc.unread != nil {
		if msg := sc.unread.Error(); msg != d.unreadErr {
			d.log.Error("manifests unread; no file counts as removed meanwhile", "dir", d.cfg.Dir, "err", sc.unread)
			d.unreadErr = msg
		}
	} else {
		d.unreadErr = ""
	}
	// A full pass writes the record back, in case it was deleted; a save
	// that failed is tried again at the next poll.
	dirty := full || d.recDirty
	present := map[string]bool{}
	var todo []source
	for _, src := range sc.apply {
		present[src.key] = true
		st := d.files[src.key]
		if st == nil {
			st = &fileState{seen: src.sig}
			d.files[src.key] = st
			if !initial && !src.builtin {
				continue // new: wait one poll for it to settle
			}
		}
		if st.seen != src.sig {
			st.seen = src.sig
			continue // changing: wait one poll for it to settle
		}
		if full || !st.tried || st.done != src.sig {
			todo = append(todo, src)
		}
	}

	// Apply, in rounds while some succeed: a file may need what a later
	// one creates (its namespace, a CRD).
	var stale []staleRef
	results := map[string][]problem{}
	for pending := todo; len(pending) > 0; {
		d.mapperReset = false
		var failed []source
		for _, src := range pending {
			probs, gone, changed := d.deploySource(ctx, src, full)
			stale = append(stale, gone...)
			dirty = dirty || changed
			results[src.key] = probs
			if len(probs) > 0 {
				failed = append(failed, src)
			}
		}
		if len(failed) == len(pending) {
			break
		}
		pending = failed
	}
	if ctx.Err() != nil {
		return nil // stopping: what failed failed for that
	}
	for _, src := range todo {
		d.report(src, results[src.key])
	}

	// Objects a file no longer holds go once every file is applied, so
	// that one moved to a later file is seen to have moved.
	for _, s := range stale {
		if err := d.deleteObject(ctx, s.key, s.ref); err != nil {
			d.log.Error("not deleted", "object", s.ref.String(), "source", s.key, "err", err)
			d.rec[s.key] = union(d.rec[s.key], []objectRef{s.ref}) // tried again next time
		}
	}

	// Sources gone (file removed) or disabled: their objects go too.
	for key, refs := range d.rec {
		_, disabled := sc.disabled[key]
		if present[key] || sc.skipped[key] {
			delete(d.missing, key)
			continue
		}
		if !disabled && sc.unread != nil {
			continue
		}
		if !disabled && !initial && !d.missing[key] {
			d.missing[key] = true // gone for one poll: maybe an editor's rewrite
			continue
		}
		var kept []objectRef
		for _, ref := range refs {
			if err := d.deleteObject(ctx, key, ref); err != nil {
				d.log.Error("not deleted", "object", ref.String(), "source", key, "err", err)
				kept = append(kept, ref)
			}
		}
		if len(kept) > 0 {
			d.rec[key] = kept
		} else {
			delete(d.rec, key)
			delete(d.missing, key)
		}
		dirty = true
	}
	for key := range d.files {
		if !present[key] {
			delete(d.files, key) // applied afresh if it comes back
		}
	}
	if full {
		// A disabled manifest's objects go even when the record does not
		// name them (it was lost, or they predate it).
		for _, src := range sc.disabled {
			d.cleanDisabled(ctx, src)
		}
	}
	if dirty {
		d.recDirty = true
		if err := d.saveRecord(ctx, d.rec); err != nil {
			return err
		}
		d.recDirty = false
	}
	return nil
}

// problem is one thing in a manifest that could not be applied.
type problem struct {
	object string // "" when the file itself is at fault
	err    error
}

// staleRef is an object a source deployed earlier and holds no more.
type staleRef struct {
	key string
	ref objectRef
}

// deploySource applies one manifest. It returns what went wrong, the
// objects it deployed before and holds no more (only when all went well),
// and whether the record changed.
func (d *Deployer) deploySource(ctx context.Context, src source, full bool) ([]problem, []staleRef, bool) {
	st := d.files[src.key]
	st.tried, st.done = true, src.sig
	content, err := d.read(src)
	if err != nil {
		return []problem{{err: err}}, nil, false
	}
	hash := sha256.Sum256(content)
	if !full && st.applied && hash == st.hash && st.lastErr == "" {
		return nil, nil, false // touched, not changed
	}
	objs, err := parse(content)
	if err != nil {
		st.applied = false
		return []problem{{err: err}}, nil, false
	}
	applyOrder(objs)
	var probs []problem
	var refs []objectRef
	for _, obj := range objs {
		ref, err := d.applyObject(ctx, src, obj)
		if err != nil {
			probs = append(probs, problem{object: refOf(obj).String(), err: err})
			continue
		}
		refs = append(refs, ref)
	}
	old := d.rec[src.key]
	if len(probs) > 0 {
		// Keep what it had: nothing is deleted on account of a broken file.
		st.applied = false
		d.rec[src.key] = union(old, refs)
		return probs, nil, len(d.rec[src.key]) != len(old)
	}
	wasApplied := st.applied && st.hash == hash
	st.applied, st.hash = true, hash
	if wasApplied {
		d.log.Debug("applied again", "file", src.name, "objects", len(refs))
	} else {
		d.log.Info("applied", "file", src.name, "objects", len(refs))
	}
	var stale []staleRef
	for _, r := range without(old, refs) {
		stale = append(stale, staleRef{src.key, r})
	}
	if len(refs) == 0 {
		delete(d.rec, src.key)
	} else {
		d.rec[src.key] = refs
	}
	return nil, stale, !sameRefs(old, refs)
}

func sameRefs(a, b []objectRef) bool {
	return len(without(a, b)) == 0 && len(without(b, a)) == 0
}

// read returns a manifest's content, built-ins with their variables
// substituted.
func (d *Deployer) read(src source) ([]byte, error) {
	if !src.builtin {
		return os.ReadFile(src.name)
	}
	b, err := fs.ReadFile(d.cfg.Builtin, src.key[len(builtinPrefix):])
	if err != nil {
		return nil, err
	}
	return expand(b, d.cfg.Vars)
}

// report logs a manifest's problems, once while they stay the same: a
// broken file is logged when it breaks, not at every resync.
func (d *Deployer) report(src source, probs []problem) {
	st := d.files[src.key]
	var msg string
	for _, p := range probs {
		msg += p.object + ": " + p.err.Error() + "\n"
	}
	level := slog.LevelError
	if msg == st.lastErr {
		level = slog.LevelDebug
	}
	st.lastErr = msg
	for _, p := range probs {
		args := []any{"file", src.name}
		if p.object != "" {
			args = append(args, "object", p.object)
		}
		d.log.Log(context.Background(), level, "manifest not applied", append(args, "err", p.err)...)
	}
}

// cleanDisabled deletes the objects a disabled manifest names that carry
// its annotation.
func (d *Deployer) cleanDisabled(ctx context.Context, src source) {
	content, err := d.read(src)
	if err != nil {
		return
	}
	objs, err := parse(content)
	if err != nil {
		return
	}
	for _, obj := range objs {
		ref := refOf(obj)
		if ref.Namespace == "" {
			ref.Namespace = "default" // deleteObject ignores it for cluster-scoped kinds
		}
		if err := d.deleteObject(ctx, src.key, ref); err != nil {
			d.log.Error("not deleted", "object", ref.String(), "source", src.key, "err", err)
		}
	}
}
