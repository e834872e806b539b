package apiserver

import (
	"bytes"
	"encoding/binary"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// Every watcher of a collection receives every store event under it (the
// scheduler, each controller's informer, metadata informers...). Decoding
// the stored bytes, computing the selectable fields and encoding the frame
// once per watcher made the API server CPU-bound; watchEvents does each
// once per event and lets every watcher share the result, as
// kube-apiserver's watch cache does with its cachingObject.
const (
	watchEventShards = 16
	// Objects kept per shard, oldest first out. Watchers of a collection
	// read the same events within a moment of each other, and each object
	// kept (a few kB decoded, plus its frames) is memory a small cluster
	// pays for: 1,024 recent revisions share the fan-out.
	watchEventsToShard = 64
)

// watchEvents holds the objects of recent watch events, decoded once and
// shared. A watcher lagging by more than the window decodes again: slower,
// never wrong, since a key and a revision name one stored value forever.
type watchEvents struct {
	shards [watchEventShards]watchEventShard
}

type watchEventShard struct {
	mu    sync.Mutex
	byKey map[watchObjectKey]*watchObject
	ring  []watchObjectKey // insertion order, for eviction
	next  int
}

// watchObjectKey names an object as a watch event shows it: the stored
// value of key at revision rev, carrying resourceVersion rv (rev, or for
// an object deleted or leaving a selection, the revision of that event).
// The resource is part of it: one stored value is a different object in
// another served version.
type watchObjectKey struct {
	res *registry.Resource
	key string
	rev int64
	rv  int64
}

func newWatchEvents() *watchEvents {
	e := &watchEvents{}
	for i := range e.shards {
		e.shards[i].byKey = make(map[watchObjectKey]*watchObject, watchEventsToShard)
		e.shards[i].ring = make([]watchObjectKey, 0, watchEventsToShard)
	}
	return e
}

// object returns the shared object of kv shown at resourceVersion rv,
// decoding it on first use.
func (e *watchEvents) object(s *Server, res *registry.Resource, kv store.KV, rv int64) (*watchObject, error) {
	k := watchObjectKey{res: res, key: kv.Key, rev: kv.ModRevision, rv: rv}
	sh := &e.shards[uint64(rv)%watchEventShards]
	sh.mu.Lock()
	o, ok := sh.byKey[k]
	if !ok {
		o = &watchObject{}
		sh.byKey[k] = o
		if len(sh.ring) < cap(sh.ring) {
			sh.ring = append(sh.ring, k)
		} else {
			delete(sh.byKey, sh.ring[sh.next])
			sh.ring[sh.next] = k
			sh.next = (sh.next + 1) % len(sh.ring)
		}
	}
	sh.mu.Unlock()
	o.decodeOnce.Do(func() { o.decode(s, res, kv, rv) })
	return o, o.err
}

// watchObject is one object of a watch event, shared by every watcher:
// nothing in it changes once decoded, so nobody may modify obj, and frame
// bytes are written as they are, never appended to.
type watchObject struct {
	decodeOnce sync.Once
	err        error
	obj        runtime.Object // carries its apiVersion and kind
	rv         int64
	hasMeta    bool
	labels     labels.Set
	fields     fields.Set

	// frames by encoding (JSON, protobuf), event type and whether the
	// object goes as PartialObjectMetadata.
	frames [2][3][2]watchFrame
}

type watchFrame struct {
	once  sync.Once
	bytes []byte
	err   error
}

func (o *watchObject) decode(s *Server, res *registry.Resource, kv store.KV, rv int64) {
	obj, err := s.decodeObject(res, kv)
	if err != nil {
		o.err = err
		return
	}
	if rv != kv.ModRevision {
		setResourceVersion(obj, rv)
	}
	obj.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
	o.obj, o.rv = obj, rv
	if m, err := meta.Accessor(obj); err == nil {
		o.hasMeta = true
		o.labels = labels.Set(m.GetLabels())
		o.fields = objectFields(res, obj)
	}
}

// matches is filter.matches on the shared object, without recomputing
// its fields for every watcher.
func (o *watchObject) matches(f filter) bool {
	if f.everything() {
		return true
	}
	return o.hasMeta && f.labels.Matches(o.labels) && f.fields.Matches(o.fields)
}

// frame is the event's JSON line or protobuf frame, encoded by the first
// watcher that needs this form.
func (o *watchObject) frame(s *Server, typ watch.EventType, partial, proto bool) ([]byte, error) {
	i := 0
	switch typ {
	case watch.Modified:
		i = 1
	case watch.Deleted:
		i = 2
	}
	p := 0
	if partial {
		p = 1
	}
	e := 0
	if proto {
		e = 1
	}
	f := &o.frames[e][i][p]
	f.once.Do(func() {
		var body runtime.Object = o.obj
		if partial {
			body = partialMetadata(o.obj)
		}
		f.bytes, f.err = encodeWatchEvent(s.codecs, proto, typ, body)
	})
	return f.bytes, f.err
}

// encodeWatchEvent is one frame of a watch in protobuf or JSON.
func encodeWatchEvent(c *codecs, proto bool, typ watch.EventType, body runtime.Object) ([]byte, error) {
	if proto {
		return encodeWatchFrameProto(c, typ, body)
	}
	return encodeWatchFrame(c, typ, body)
}

// encodeWatchFrameProto is one frame of a protobuf watch, as
// kube-apiserver writes it and client-go reads it: a 4-byte big-endian
// length, then a metav1.WatchEvent in plain protobuf whose object holds
// the object's own encoding (the "k8s\x00" magic and runtime.Unknown
// envelope, as a GET returns it).
func encodeWatchFrameProto(c *codecs, typ watch.EventType, body runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.protobuf.Encode(body, &buf); err != nil {
		return nil, err
	}
	ev := metav1.WatchEvent{Type: string(typ), Object: runtime.RawExtension{Raw: buf.Bytes()}}
	size := ev.Size()
	// Exactly sized: a shared frame stays in memory while its object does.
	frame := make([]byte, 4+size)
	binary.BigEndian.PutUint32(frame, uint32(size))
	if _, err := ev.MarshalToSizedBuffer(frame[4:]); err != nil {
		return nil, err
	}
	return frame, nil
}

// encodeWatchFrame is one JSON line of a watch: the bytes json.Encoder
// writes for a metav1.WatchEvent holding body, built around the body's
// encoding without scanning it again. The serializer's JSON is compact
// and escaped as encoding/json escapes (it is encoding/json's), which is
// all the Encoder would do to the raw object.
func encodeWatchFrame(c *codecs, typ watch.EventType, body runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.json.Encode(body, &buf); err != nil {
		return nil, err
	}
	raw := bytes.TrimRight(buf.Bytes(), " \t\r\n")
	// Exactly sized: a shared frame stays in memory while its object does.
	frame := make([]byte, 0, len(`{"type":"","object":}`)+len(typ)+len(raw)+1)
	frame = append(frame, `{"type":"`...)
	frame = append(frame, typ...)
	frame = append(frame, `","object":`...)
	frame = append(frame, raw...)
	return append(frame, '}', '\n'), nil
}
