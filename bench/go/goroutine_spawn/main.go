// goroutine_spawn: the peer of gort_bench_proc's spawn rounds. Spawns
// 100,000 goroutines that each mark a WaitGroup and park on an RWMutex held
// for writing, then releases them all and waits. The first round is cold,
// the second reuses dead goroutines. Memory per parked goroutine is the
// growth of StackInuse + HeapInuse while all of them are parked (its stack,
// its g and what it parks on). Go has one stack size: the _default rows.
package main

import (
	"runtime"
	"sync"
	"time"

	"gortbench/internal/bench"
)

const goroutines = 100000

func inUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.StackInuse + m.HeapInuse
}

// round returns M goroutines per second until all parked, and bytes per
// parked goroutine.
func round() (float64, float64) {
	var started, finished sync.WaitGroup
	var gate sync.RWMutex
	before := inUse()
	started.Add(goroutines)
	finished.Add(goroutines)
	gate.Lock()
	start := time.Now()
	for i := 0; i < goroutines; i++ {
		go func() {
			started.Done()
			gate.RLock()
			gate.RUnlock()
			finished.Done()
		}()
	}
	started.Wait()
	parked := time.Since(start)
	runtime.Gosched()
	perG := float64(inUse()-before) / goroutines
	gate.Unlock()
	finished.Wait()
	return goroutines / parked.Seconds() / 1e6, perG
}

func main() {
	cold, mem := round()
	reuse, _ := round()
	bench.Result("goroutine_spawn_rate_default", cold, "Mgoroutines/s")
	bench.Result("goroutine_spawn_rate_reuse_default", reuse, "Mgoroutines/s")
	bench.Result("goroutine_mem_default", mem, "B/goroutine")
}
