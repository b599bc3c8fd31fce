// maps: the peer of gort_bench_syncmap map (the runtime map alone), on Go's
// map[uintptr]uintptr: lookups that hit in 1,000 and 1e6 keys, lookups that
// miss, and inserts into a map grown from empty to 1e6 keys (rehashes
// included); ns per operation. Each is warmed up first, as gort's are.
package main

import (
	"time"

	"gortbench/internal/bench"
)

const (
	lookups  = 10000000
	bigMap   = 1000000
	smallMap = 1000
	seed     = 88172645463325252
)

func xs(r uint64) uint64 {
	r ^= r << 13
	r ^= r >> 7
	r ^= r << 17
	return r
}

func lookup(m map[uintptr]uintptr, keys, n int, hit bool) float64 {
	r, s := uint64(seed), uintptr(0)
	offset := uintptr(0)
	if !hit {
		offset = uintptr(keys)
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		r = xs(r)
		if v, ok := m[uintptr(r%uint64(keys))+offset]; ok {
			s += v + 1
		}
	}
	elapsed := time.Since(start)
	if (s == 0) == hit {
		bench.Fail("map lookups: wrong results")
	}
	return bench.PerOp(elapsed, n)
}

func main() {
	n := bench.Size(lookups)
	small := make(map[uintptr]uintptr)
	for k := uintptr(0); k < smallMap; k++ {
		small[k] = k
	}
	lookup(small, smallMap, n/10, true)
	bench.Result("map_lookup_1k", lookup(small, smallMap, n, true), "ns/op")

	big := bench.Size(bigMap)
	var m map[uintptr]uintptr
	var insert float64
	for round := 0; round < 2; round++ { // the first is the warm-up
		m = make(map[uintptr]uintptr)
		start := time.Now()
		for k := uintptr(0); k < uintptr(big); k++ {
			m[k] = k
		}
		insert = bench.PerOp(time.Since(start), big)
	}
	bench.Result("map_insert_1m", insert, "ns/op")
	lookup(m, big, n/10, true)
	bench.Result("map_lookup_1m", lookup(m, big, n, true), "ns/op")
	bench.Result("map_miss_1m", lookup(m, big, n, false), "ns/op")
}
