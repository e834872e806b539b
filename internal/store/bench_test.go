package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// Go benchmarks for iterating on the store; `make bench` runs the side-by-side
// comparison with etcd (storebench).

var benchValue = make([]byte, 1024)

func BenchmarkCreate(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, err := Open(Config{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var n atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range writers {
				wg.Go(func() {
					for {
						i := n.Add(1)
						if i > int64(b.N) {
							return
						}
						if _, err := s.Create(context.Background(), fmt.Sprintf("/b/%d", i), benchValue); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

func BenchmarkGet(b *testing.B) {
	s := loadBench(b, 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Get(context.Background(), fmt.Sprintf("/b/%d", i%1000)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkList10k(b *testing.B) {
	s := loadBench(b, 10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := s.List(context.Background(), "/b/", ListOptions{})
		if err != nil || len(res.KVs) != 10000 {
			b.Fatal(len(res.KVs), err)
		}
	}
}

func loadBench(b *testing.B, n int) *Store {
	s, err := Open(Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Go(func() {
			for i := w; i < n; i += 64 {
				if _, err := s.Create(context.Background(), fmt.Sprintf("/b/%d", i), benchValue); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	return s
}
