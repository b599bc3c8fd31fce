// alloc: the peer of gort_bench_malloc. Allocates pointer-free objects of
// 16, 64 and 256 bytes (4e6, 2e6 and 1e6 of them), writes the first byte and
// keeps the last 1024 in a ring (a heap slice, as gort's ring is a heap
// array), split over GOMAXPROCS goroutines; the collector's cost is
// included. Wall-clock ns per allocation, printed as alloc_<size>.
package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"gortbench/internal/bench"
)

const ring = 1024

var sizes = []struct{ size, allocs int }{{16, 4000000}, {64, 2000000}, {256, 1000000}}

func allocate(size, n int) int {
	r := make([]*byte, ring)
	for i := 0; i < n; i++ {
		b := make([]byte, size)
		b[0] = byte(i)
		r[i&(ring-1)] = &b[0]
	}
	sum := 0
	for _, p := range r {
		if p != nil {
			sum += int(*p)
		}
	}
	return sum
}

func main() {
	workers := runtime.GOMAXPROCS(0)
	for _, s := range sizes {
		per := bench.Size(s.allocs) / workers
		sums := make([]int, workers)
		var wg sync.WaitGroup
		wg.Add(workers)
		start := time.Now()
		for w := 0; w < workers; w++ {
			go func(w int) {
				sums[w] = allocate(s.size, per)
				wg.Done()
			}(w)
		}
		wg.Wait()
		elapsed := time.Since(start)
		if sums[0] == 0 {
			bench.Fail("the ring is empty")
		}
		bench.Result(fmt.Sprintf("alloc_%d", s.size), bench.PerOp(elapsed, per*workers), "ns/alloc")
	}
}
