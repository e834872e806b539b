package apiserver

import "testing"

func TestJSONCache(t *testing.T) {
	c := newJSONCache(64)
	c.put("/a", 1, []byte("aaaa"))
	if b, ok := c.get("/a", 1); !ok || string(b) != "aaaa" {
		t.Fatal("missing entry")
	}
	if _, ok := c.get("/a", 2); ok {
		t.Fatal("another revision served")
	}
	c.put("/a", 2, []byte("AAAA"))
	c.put("/a", 1, []byte("old!")) // an older revision never replaces a newer one
	if b, ok := c.get("/a", 2); !ok || string(b) != "AAAA" {
		t.Fatal("newer revision lost")
	}
	for i, k := range []string{"/b", "/c", "/d"} {
		c.put(k, int64(i), make([]byte, 4)) // within one sixteenth of the budget
	}
	c.put("/big", 1, make([]byte, 60)) // more than a sixteenth: not cached
	if _, ok := c.get("/big", 1); ok {
		t.Fatal("oversized entry cached")
	}
	// Filling past the budget evicts the least recently used.
	c.get("/a", 2)
	for i := range 20 {
		c.put(string(rune('e'+i)), 1, make([]byte, 4))
	}
	if c.size > c.budget {
		t.Fatalf("size %d over budget %d", c.size, c.budget)
	}
	if _, ok := c.get("/b", 0); ok {
		t.Fatal("least recently used entry kept")
	}
}
