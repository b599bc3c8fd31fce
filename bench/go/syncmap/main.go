// syncmap: the peer of gort_bench_syncmap's read-heavy rows. 1,000 keys,
// 99% loads and 1% stores, 2 goroutines sharing 1e7 operations (after a
// warm-up of a tenth) on `syncmap KIND`: a sync.Map (syncmap), a map behind
// a sync.RWMutex (rwmutex) or behind a sync.Mutex (mutex); ns per operation.
// The keys and values of the sync.Map are boxed once beforehand: gort's are
// words, so a Go program's boxing on every call would not be the map's cost.
package main

import (
	"sync"
	"time"

	"gortbench/internal/bench"
)

const (
	keys       = 1000
	writePct   = 1
	workers    = 2
	operations = 10000000
	seedStep   = 0x9E3779B97F4A7C15
	seedBase   = 88172645463325252
)

// xorshift, as gort's program draws its keys.
func xs(r uint64) uint64 {
	r ^= r << 13
	r ^= r >> 7
	r ^= r << 17
	return r
}

var (
	kind    string
	smap    sync.Map
	boxed   [keys]any
	lmap    = make(map[uintptr]uintptr, keys)
	mu      sync.Mutex
	rw      sync.RWMutex
	sums    [workers]uint64
	perWork int
)

func workSyncMap(n int, r uint64) uint64 {
	var s uint64
	for i := 0; i < n; i++ {
		r = xs(r)
		k := r % keys
		if (r>>32)%100 < writePct {
			smap.Store(boxed[k], boxed[(k+uint64(i))%keys])
		} else if v, ok := smap.Load(boxed[k]); ok {
			s += uint64(v.(int))
		}
	}
	return s
}

func workLocked(n int, r uint64, rwlock bool) uint64 {
	var s uint64
	for i := 0; i < n; i++ {
		r = xs(r)
		k := uintptr(r % keys)
		if (r>>32)%100 < writePct {
			if rwlock {
				rw.Lock()
			} else {
				mu.Lock()
			}
			lmap[k] = k + uintptr(i)
			if rwlock {
				rw.Unlock()
			} else {
				mu.Unlock()
			}
		} else {
			if rwlock {
				rw.RLock()
			} else {
				mu.Lock()
			}
			v, ok := lmap[k]
			if rwlock {
				rw.RUnlock()
			} else {
				mu.Unlock()
			}
			if ok {
				s += uint64(v)
			}
		}
	}
	return s
}

func readHeavy(n int) time.Duration {
	perWork = n / workers
	var wg sync.WaitGroup
	wg.Add(workers)
	start := time.Now()
	for j := 0; j < workers; j++ {
		go func(j int) {
			seed := uint64(j)*seedStep + seedBase
			if kind == "syncmap" {
				sums[j] = workSyncMap(perWork, seed)
			} else {
				sums[j] = workLocked(perWork, seed, kind == "rwmutex")
			}
			wg.Done()
		}(j)
	}
	wg.Wait()
	return time.Since(start)
}

func main() {
	kind = bench.Arg(0, "syncmap")
	if kind != "syncmap" && kind != "rwmutex" && kind != "mutex" {
		bench.Fail("usage: syncmap syncmap|rwmutex|mutex")
	}
	for k := 0; k < keys; k++ {
		boxed[k] = k
		smap.Store(boxed[k], boxed[k])
		lmap[uintptr(k)] = uintptr(k)
	}
	n := bench.Size(operations)
	readHeavy(n / 10)
	elapsed := readHeavy(n)
	if sums[0] == 0 || sums[1] == 0 {
		bench.Fail("no loads hit")
	}
	bench.Result("syncmap_readheavy_"+kind, bench.PerOp(elapsed, perWork*workers), "ns/op")
}
