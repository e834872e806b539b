package apiserver

import (
	"runtime"
	"sync"
)

// parallelMinItems is the list size below which work stays on one
// goroutine: fanning out costs more than it saves on small lists.
const parallelMinItems = 256

// forEachParallel runs fn on every index of n items, spread over the
// machine's cores in contiguous chunks, and returns the first error.
func forEachParallel(n int, fn func(i int) error) error {
	workers := runtime.GOMAXPROCS(0)
	if n < parallelMinItems || workers == 1 {
		for i := range n {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	chunk := (n + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		from, to := w*chunk, min(n, (w+1)*chunk)
		wg.Go(func() {
			for i := from; i < to; i++ {
				if err := fn(i); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
