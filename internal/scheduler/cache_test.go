package scheduler

import (
	"testing"
)

func TestCacheAssumeConfirmForget(t *testing.T) {
	c := newCache()
	c.addNode(testNode("n1", 4000))
	c.addNode(testNode("n2", 4000))
	snap := newSnapshot()
	c.updateSnapshot(snap)
	if len(snap.list) != 2 {
		t.Fatalf("snapshot has %d nodes", len(snap.list))
	}

	p := On(testPod("p", 1000), "n1")
	if err := c.assumePod(p); err != nil {
		t.Fatal(err)
	}
	if err := c.assumePod(p); err == nil {
		t.Fatal("assuming twice succeeded")
	}
	if !c.isAssumed(p) || !c.placed(p) {
		t.Fatal("pod not assumed")
	}
	n2Before := snap.get("n2")
	c.updateSnapshot(snap)
	if got := snap.get("n1").Requested.MilliCPU; got != 1000 {
		t.Fatalf("n1 requested %d after assume", got)
	}
	if snap.get("n2") != n2Before {
		t.Fatal("an unchanged node was copied again")
	}

	// The informer reports it bound elsewhere: the assumption moves.
	bound := On(testPod("p", 1000), "n2")
	c.addPod(bound)
	if c.isAssumed(bound) {
		t.Fatal("still assumed after confirmation")
	}
	c.updateSnapshot(snap)
	if snap.get("n1").Requested.MilliCPU != 0 || snap.get("n2").Requested.MilliCPU != 1000 {
		t.Fatal("confirmation on another node did not move the pod")
	}

	// A failed binding is forgotten.
	q := On(testPod("q", 500), "n1")
	if err := c.assumePod(q); err != nil {
		t.Fatal(err)
	}
	c.forgetPod(q)
	c.updateSnapshot(snap)
	if snap.get("n1").Requested.MilliCPU != 0 || c.placed(q) {
		t.Fatal("forgotten pod still counted")
	}

	// Deleting the node keeps its pods' accounting but drops the node.
	c.removeNode("n2")
	c.updateSnapshot(snap)
	if len(snap.list) != 1 || snap.get("n2") != nil {
		t.Fatalf("removed node still listed: %d nodes", len(snap.list))
	}
	c.removePod(bound)
	c.mu.Lock()
	_, left := c.nodes["n2"]
	c.mu.Unlock()
	if left {
		t.Fatal("empty removed node kept in the cache")
	}
}
