// mutex_handoff: the peer of gort_bench_proc's mutex hand-off. Four
// goroutines each lock a sync.Mutex, bump a counter and unlock, 200,000
// times; ns per lock/unlock.
package main

import (
	"sync"
	"time"

	"gortbench/internal/bench"
)

const (
	workers  = 4
	handoffs = 200000
)

func main() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	wg.Add(workers)
	start := time.Now()
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < handoffs; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if counter != workers*handoffs {
		bench.Fail("lost updates")
	}
	bench.Result("mutex_handoff", bench.PerOp(elapsed, workers*handoffs), "ns/op")
}
