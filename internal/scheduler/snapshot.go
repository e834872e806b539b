package scheduler

import (
	"sort"

	"mini.dev/mini/internal/scheduler/framework"
)

// snapshot is the read-only copy of the cache one cycle works on, so
// that filters running in parallel never race with informer updates.
// It is refreshed before each cycle by copying only the nodes whose
// generation moved: with one pod assumed per cycle that is one node, not
// the whole cluster.
type snapshot struct {
	nodes map[string]*framework.NodeInfo
	// list holds the nodes that exist (NodeInfo.Node set), in name order;
	// index maps a name to its position.
	list  []*framework.NodeInfo
	index map[string]int
	// generation is the cache generation the snapshot reflects.
	generation int64
}

func newSnapshot() *snapshot {
	return &snapshot{nodes: map[string]*framework.NodeInfo{}, index: map[string]int{}}
}

// update brings s up to date with c.
func (c *cache) updateSnapshot(s *snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.generation == c.generation && !c.nodeSetChanged {
		return
	}
	rebuild := c.nodeSetChanged
	for name := range c.dirty {
		delete(c.dirty, name)
		n, ok := c.nodes[name]
		if !ok || n.Generation <= s.generation {
			continue
		}
		clone := n.Clone()
		s.nodes[name] = clone
		if i, ok := s.index[name]; ok && !rebuild {
			if n.Node == nil {
				rebuild = true
				continue
			}
			s.list[i] = clone
		} else if n.Node != nil {
			rebuild = true
		}
	}
	if rebuild {
		for name := range s.nodes {
			if _, ok := c.nodes[name]; !ok {
				delete(s.nodes, name)
			}
		}
		s.list = s.list[:0]
		for _, n := range s.nodes {
			if n.Node != nil {
				s.list = append(s.list, n)
			}
		}
		sort.Slice(s.list, func(i, j int) bool { return s.list[i].Node.Name < s.list[j].Node.Name })
		s.index = make(map[string]int, len(s.list))
		for i, n := range s.list {
			s.index[n.Node.Name] = i
		}
		c.nodeSetChanged = false
	}
	s.generation = c.generation
}

// get returns the node's info if the node exists.
func (s *snapshot) get(name string) *framework.NodeInfo {
	if i, ok := s.index[name]; ok {
		return s.list[i]
	}
	return nil
}
