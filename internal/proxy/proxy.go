package proxy

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	discovery "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// sliceIndex indexes EndpointSlices by "namespace/service".
const sliceIndex = "mini.dev/proxy-service"

// Proxy programs the node's service table. Build it with New, start it with Run.
type Proxy struct {
	cfg     Config
	planner planner

	services  corelisters.ServiceLister
	slices    cache.Indexer
	hasSynced []cache.InformerSynced

	mu       sync.Mutex
	dirty    map[string]struct{}
	needFull bool
	kick     chan struct{}

	ready     chan struct{}
	readyOnce sync.Once

	// Sync state, owned by the Run goroutine.
	records map[string]*record
	owners  map[elemKey]string // which Service a map key belongs to
	lbRefs  map[netip.Addr]int
	lbDirty bool
	slots   *slots
	// hairpinRefs counts the Services each hairpin set address is an
	// endpoint of.
	hairpinRefs map[netip.Addr]int
}

// New registers the proxy's informers and handlers on cfg.Informers; it
// touches neither the kernel nor the API.
func New(cfg Config) (*Proxy, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	p := &Proxy{
		cfg:      cfg,
		planner:  planner{clusterCIDR: cfg.ClusterCIDR},
		dirty:    map[string]struct{}{},
		needFull: true,
		kick:     make(chan struct{}, 1),
		ready:    make(chan struct{}),
		records:  map[string]*record{},
		owners:   map[elemKey]string{},
		lbRefs:   map[netip.Addr]int{},
		lbDirty:  true,
		slots:    newSlots(),

		hairpinRefs: map[netip.Addr]int{},
	}
	svcInf := cfg.Informers.Core().V1().Services()
	sliceInf := cfg.Informers.Discovery().V1().EndpointSlices().Informer()
	if _, exists := sliceInf.GetIndexer().GetIndexers()[sliceIndex]; !exists {
		if err := sliceInf.AddIndexers(cache.Indexers{sliceIndex: sliceServiceKey}); err != nil {
			return nil, fmt.Errorf("proxy: index EndpointSlices: %w", err)
		}
	}
	p.services = svcInf.Lister()
	p.slices = sliceInf.GetIndexer()

	svcReg, err := svcInf.Informer().AddEventHandler(p.handler(func(obj any) (string, bool) {
		key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		return key, err == nil
	}))
	if err != nil {
		return nil, fmt.Errorf("proxy: watch Services: %w", err)
	}
	sliceReg, err := sliceInf.AddEventHandler(p.handler(func(obj any) (string, bool) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		keys, _ := sliceServiceKey(obj)
		if len(keys) == 0 {
			return "", false
		}
		return keys[0], true
	}))
	if err != nil {
		return nil, fmt.Errorf("proxy: watch EndpointSlices: %w", err)
	}
	p.hasSynced = []cache.InformerSynced{svcReg.HasSynced, sliceReg.HasSynced}
	return p, nil
}

// sliceServiceKey maps a slice to its Service's "namespace/name".
func sliceServiceKey(obj any) ([]string, error) {
	s, ok := obj.(*discovery.EndpointSlice)
	if !ok {
		return nil, nil
	}
	name := s.Labels[discovery.LabelServiceName]
	if name == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + name}, nil
}

func (p *Proxy) handler(key func(any) (string, bool)) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if k, ok := key(obj); ok {
				p.markDirty(k)
			}
		},
		UpdateFunc: func(old, obj any) {
			if a, b := metaVersion(old), metaVersion(obj); a != "" && a == b {
				return // a resync, nothing changed
			}
			if k, ok := key(obj); ok {
				p.markDirty(k)
			}
		},
		DeleteFunc: func(obj any) {
			if k, ok := key(obj); ok {
				p.markDirty(k)
			}
		},
	}
}

func metaVersion(obj any) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetResourceVersion()
}

func (p *Proxy) markDirty(key string) {
	p.mu.Lock()
	p.dirty[key] = struct{}{}
	p.mu.Unlock()
	p.poke()
}

func (p *Proxy) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Ready is closed after the first successful sync.
func (p *Proxy) Ready() <-chan struct{} { return p.ready }

// Run programs the table until ctx ends. Its netlink sockets are opened in
// the network namespace of the calling thread. The table stays in place
// when Run returns, so Service traffic keeps flowing across restarts.
func (p *Proxy) Run(ctx context.Context) error {
	k, err := newKernel(p.cfg.Table, p.cfg.NodeIPs)
	if err != nil {
		return err
	}
	defer k.close()
	host, err := newHost(p.cfg.LBDevice)
	if err != nil {
		return err
	}
	defer host.close()

	p.cfg.Informers.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), p.hasSynced...) {
		return ctx.Err()
	}

	log := p.cfg.Logger
	fullTicker := time.NewTicker(p.cfg.FullSyncInterval)
	defer fullTicker.Stop()
	retry := time.NewTimer(0)
	<-retry.C
	var last time.Time
	p.poke()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.kick:
		case <-retry.C:
		case <-fullTicker.C:
			p.mu.Lock()
			p.needFull = true
			p.mu.Unlock()
		}
		if wait := time.Until(last.Add(p.cfg.MinSyncInterval)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		last = time.Now()
		if err := p.sync(k, host); err != nil {
			log.Error("sync failed, next sync rebuilds the table", "err", err)
			retry.Reset(p.cfg.RetryInterval)
			continue
		}
		p.readyOnce.Do(func() { close(p.ready) })
	}
}

// sync programs what changed since the last sync, or everything.
func (p *Proxy) sync(k *kernel, host *host) error {
	start := time.Now()
	p.mu.Lock()
	full := p.needFull
	dirty := p.dirty
	p.dirty = map[string]struct{}{}
	p.needFull = false
	p.mu.Unlock()

	keys := dirty
	if full {
		svcs, err := p.services.List(labels.Everything())
		if err != nil {
			return p.failed(dirty, true, err)
		}
		keys = make(map[string]struct{}, len(svcs)+len(p.records))
		for _, s := range svcs {
			keys[s.Namespace+"/"+s.Name] = struct{}{}
		}
		for key := range p.records {
			keys[key] = struct{}{}
		}
	}
	if len(keys) == 0 && !full && !p.lbDirty {
		return nil
	}

	plans := make(map[string]*servicePlan, len(keys))
	for key := range keys {
		pl, err := p.planService(key)
		if err != nil {
			return p.failed(dirty, full, err)
		}
		plans[key] = pl
	}

	ch := &changes{full: full}
	old := p.records
	owners := p.owners
	if full {
		old = map[string]*record{}
		owners = map[elemKey]string{}
	}
	p.claim(keys, old, plans, owners)
	newRecs := make(map[string]*record, len(plans))
	for key, pl := range plans {
		newRecs[key] = diff(old[key], pl, ch)
	}
	hairpinRefs := p.hairpin(old, newRecs, full, ch)
	planned := time.Now()
	if !ch.empty() {
		if err := k.apply(ch); err != nil {
			return p.failed(dirty, true, err)
		}
	}
	applied := time.Now()

	// Committed: remember it, then the follow-ups that depend on it.
	prev := p.records
	if full {
		p.records = make(map[string]*record, len(newRecs))
	}
	p.owners = owners
	if full {
		p.hairpinRefs = make(map[netip.Addr]int, len(hairpinRefs))
	}
	for ip, n := range hairpinRefs {
		if n > 0 {
			p.hairpinRefs[ip] = n
		} else {
			delete(p.hairpinRefs, ip)
		}
	}
	for key, rec := range newRecs {
		oldRec := prev[key]
		p.refLB(oldRec, rec)
		if oldRec != nil && !full {
			releaseSlots(p.slots, oldRec, rec)
		}
		if rec.empty() {
			delete(p.records, key)
		} else {
			p.records[key] = rec
		}
		if oldRec != nil || len(rec.udp) > 0 {
			if err := host.clearStaleUDP(oldRec, rec); err != nil {
				p.cfg.Logger.Warn("delete stale UDP conntrack entries", "service", key, "err", err)
			}
		}
	}
	if full {
		for key, rec := range prev {
			if _, ok := newRecs[key]; !ok {
				p.refLB(rec, nil)
			}
		}
	}
	if full {
		names := p.chainNames()
		p.slots.retain(func(chain string) bool { return names[chain] })
	}
	if p.lbDirty {
		if err := host.syncLBAddrs(p.lbRefs, p.cfg.NodeIPs); err != nil {
			p.cfg.Logger.Warn("LoadBalancer addresses", "device", p.cfg.LBDevice, "err", err)
		} else {
			p.lbDirty = false
		}
	}
	p.cfg.Logger.Debug("synced", "full", full, "services", len(keys),
		"chains", len(ch.addChains), "elements", len(ch.addElems)+len(ch.delElems),
		"plan", planned.Sub(start), "kernel", applied.Sub(planned), "took", time.Since(start))
	return nil
}

// failed puts the keys back and asks for a full sync next time.
func (p *Proxy) failed(dirty map[string]struct{}, full bool, err error) error {
	p.mu.Lock()
	for k := range dirty {
		p.dirty[k] = struct{}{}
	}
	p.needFull = p.needFull || full
	p.mu.Unlock()
	return err
}

// claim makes each map key belong to one Service: two Services can ask for
// the same externalIP and port, and the kernel would refuse the second
// element and with it the whole transaction. The first one keeps it.
func (p *Proxy) claim(keys map[string]struct{}, old map[string]*record, plans map[string]*servicePlan, owners map[elemKey]string) {
	for key := range keys {
		if rec := old[key]; rec != nil {
			for _, e := range rec.elems {
				if owners[e.elemKey] == key {
					delete(owners, e.elemKey)
				}
			}
		}
	}
	for key, pl := range plans {
		kept := pl.elems[:0]
		for _, e := range pl.elems {
			if o, taken := owners[e.elemKey]; taken && o != key {
				p.cfg.Logger.Warn("address and port already used by another Service", "service", key, "other", o, "element", e.String())
				continue
			}
			owners[e.elemKey] = key
			kept = append(kept, e)
		}
		pl.elems = kept
	}
}

func (r *record) empty() bool {
	return len(r.chains) == 0 && len(r.elems) == 0 && len(r.sets) == 0 && len(r.lbAddrs) == 0
}

// refLB counts the LoadBalancer addresses the node answers for.
func (p *Proxy) refLB(old, rec *record) {
	if old != nil {
		for _, a := range old.lbAddrs {
			if p.lbRefs[a]--; p.lbRefs[a] <= 0 {
				delete(p.lbRefs, a)
				p.lbDirty = true
			}
		}
	}
	if rec != nil {
		for _, a := range rec.lbAddrs {
			if p.lbRefs[a]++; p.lbRefs[a] == 1 {
				p.lbDirty = true
			}
		}
	}
}

// planService plans one Service from the listers; a Service that is gone
// or skipped gets an empty plan, which deletes what it had.
func (p *Proxy) planService(key string) (*servicePlan, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, err
	}
	svc, err := p.services.Services(ns).Get(name)
	if err != nil || skipService(svc) {
		return p.planner.plan(nil, nil, p.slots), nil
	}
	objs, err := p.slices.ByIndex(sliceIndex, key)
	if err != nil {
		return nil, fmt.Errorf("endpoint slices of %s: %w", key, err)
	}
	slices := make([]*discovery.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*discovery.EndpointSlice); ok {
			slices = append(slices, s)
		}
	}
	return p.planner.plan(servicePorts(svc, slices, p.cfg.NodeName), lbAddresses(svc, p.cfg.NodeName), p.slots), nil
}

// hairpin queues the hairpin set changes that the new records make and
// returns the reference counts that change, to apply once committed (0:
// gone). A full sync starts from an empty set.
func (p *Proxy) hairpin(old, newRecs map[string]*record, full bool, ch *changes) map[netip.Addr]int {
	delta := map[netip.Addr]int{}
	for key, rec := range newRecs {
		if o := old[key]; o != nil {
			for _, ip := range o.hairpin {
				delta[ip]--
			}
		}
		for _, ip := range rec.hairpin {
			delta[ip]++
		}
	}
	counts := make(map[netip.Addr]int, len(delta))
	for ip, d := range delta {
		before := 0
		if !full {
			before = p.hairpinRefs[ip]
		}
		after := max(before+d, 0)
		switch {
		case before == 0 && after > 0:
			ch.addHairpin = append(ch.addHairpin, ip)
		case before > 0 && after == 0:
			ch.delHairpin = append(ch.delHairpin, ip)
		}
		counts[ip] = after
	}
	return counts
}

// releaseSlots gives back the slots of chains old had and rec has not.
func releaseSlots(s *slots, old, rec *record) {
	for _, c := range old.chains {
		if !slices.ContainsFunc(rec.chains, func(n chainRec) bool { return n.name == c.name }) {
			s.release(c.name)
		}
	}
}

// chainNames lists the chains of every Service's record.
func (p *Proxy) chainNames() map[string]bool {
	out := map[string]bool{}
	for _, rec := range p.records {
		for _, c := range rec.chains {
			out[c.name] = true
		}
	}
	return out
}
