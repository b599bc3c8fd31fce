// yield: the peer of gort_bench_proc's yield round trip. Two goroutines
// each yield (runtime.Gosched) 1e6 times; the elapsed time over 1e6.
package main

import (
	"runtime"
	"sync"
	"time"

	"gortbench/internal/bench"
)

const yields = 1000000

func main() {
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	for g := 0; g < 2; g++ {
		go func() {
			for i := 0; i < yields; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	bench.Result("yield_round_trip", bench.PerOp(time.Since(start), yields), "ns")
}
