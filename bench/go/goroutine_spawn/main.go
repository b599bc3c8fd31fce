// goroutine_spawn: the peer of gort_bench_proc's spawn rounds. Spawns
// 100,000 goroutines that each mark a WaitGroup and park on an RWMutex held
// for writing, then releases them all and waits. The first round is cold,
// the second reuses dead goroutines. Memory per parked goroutine is the
// growth of StackInuse + HeapInuse while all of them are parked (its stack,
// its g and what it parks on), and natively also the process's growth in
// resident memory (Linux's /proc/self/statm; js/wasm has no such file). Go
// has one stack size: the _default rows.
package main

import (
	"fmt"
	"os"
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

// resident returns the process's resident memory in bytes, false where it
// cannot be read.
func resident() (float64, bool) {
	statm, err := os.ReadFile("/proc/self/statm")
	var size, pages uint64
	if err != nil {
		return 0, false
	}
	if n, _ := fmt.Sscan(string(statm), &size, &pages); n != 2 {
		return 0, false
	}
	return float64(pages) * float64(os.Getpagesize()), true
}

// round returns M goroutines per second until all parked, and bytes per
// parked goroutine: its stack and heap, and the process's resident memory
// (negative where it cannot be read).
func round() (float64, float64, float64) {
	var started, finished sync.WaitGroup
	var gate sync.RWMutex
	before := inUse()
	residentBefore, residentKnown := resident()
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
	residentPerG := -1.0
	if residentAfter, ok := resident(); ok && residentKnown {
		residentPerG = (residentAfter - residentBefore) / goroutines
	}
	gate.Unlock()
	finished.Wait()
	return goroutines / parked.Seconds() / 1e6, perG, residentPerG
}

func main() {
	cold, mem, residentMem := round()
	reuse, _, _ := round()
	bench.Result("goroutine_spawn_rate_default", cold, "Mgoroutines/s")
	bench.Result("goroutine_spawn_rate_reuse_default", reuse, "Mgoroutines/s")
	bench.Result("goroutine_mem_default", mem, "B/goroutine")
	if residentMem >= 0 {
		bench.Result("goroutine_resident_default", residentMem, "B/goroutine")
	}
}
