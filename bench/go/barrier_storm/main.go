// barrier_storm: the peer of gort_bench_gc barrier_storm: old objects'
// pointers rewritten all the time while some are replaced, so that much of
// the program runs with the write barrier on; measured as gort's
// (internal/gcstats). quick cuts the rewires by quickCut, as gort_bench_gc
// does.
package main

import (
	"gortbench/internal/bench"
	"gortbench/internal/gcstats"
)

const (
	links        = 4
	roots        = 1 << 18
	rewires      = 40 * 1000 * 1000
	quickCut     = 10
	replaceEvery = 8 // one rewire in this many also replaces a root's node
)

type stormNode struct {
	links [links]*stormNode
	id    uint64
	check uint64
}

func checkOf(id uint64) uint64 { return id*0x9e3779b97f4a7c15 ^ 0x5bd1e995 }

func newNode(id uint64) *stormNode { return &stormNode{id: id, check: checkOf(id)} }

func storm(n int) {
	table := make([]*stormNode, roots)
	ids, x := uint64(0), uint64(88172645463325252)
	for i := range table {
		ids++
		table[i] = newNode(ids)
	}
	for k := 0; k < n; k++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17 // xorshift64, the same sequence as gort's program
		a, b := table[x%roots], table[(x>>20)%roots]
		a.links[(x>>40)%links] = b
		if (x>>50)%replaceEvery == 0 {
			ids++
			table[(x>>8)%roots] = newNode(ids)
		}
	}
	for _, s := range table {
		if s.check != checkOf(s.id) {
			bench.Fail("a root's node is corrupt")
		}
		for _, l := range s.links {
			if l != nil && l.check != checkOf(l.id) {
				bench.Fail("a linked node is corrupt")
			}
		}
	}
}

func main() {
	n := rewires
	if bench.Quick {
		n /= quickCut
	}
	gcstats.Measure("barrier_storm", func() { storm(n) })
}
