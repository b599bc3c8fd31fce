// context: the peer of gort_bench_syncmap context. Builds a random tree of
// 10,000 contexts with WithCancel (each under a random earlier one, its
// Done channel asked for), then cancels it from its root; 20 rounds after a
// warm-up (quick: 2). ns per context built, us per tree cancelled.
package main

import (
	"context"
	"time"

	"gortbench/internal/bench"
)

const (
	nodes  = 10000
	rounds = 20
	seed   = 88172645463325252
)

func xs(r uint64) uint64 {
	r ^= r << 13
	r ^= r >> 7
	r ^= r << 17
	return r
}

func main() {
	n := bench.Size(rounds)
	if n < 2 {
		n = 2
	}
	tree := make([]context.Context, nodes)
	cancels := make([]context.CancelFunc, nodes)
	var build, cancel time.Duration
	for round := -1; round < n; round++ { // -1: warm-up
		r := uint64(seed + round)
		start := time.Now()
		tree[0], cancels[0] = context.WithCancel(context.Background())
		for i := 1; i < nodes; i++ {
			r = xs(r)
			tree[i], cancels[i] = context.WithCancel(tree[r%uint64(i)])
			if tree[i].Done() == nil {
				bench.Fail("no Done channel")
			}
		}
		built := time.Now()
		cancels[0]()
		cancelled := time.Now()
		if tree[nodes-1].Err() != context.Canceled {
			bench.Fail("tree not cancelled")
		}
		if round >= 0 {
			build += built.Sub(start)
			cancel += cancelled.Sub(built)
		}
	}
	bench.Result("context_tree_build", bench.PerOp(build, n*nodes), "ns/context")
	bench.Result("context_tree_cancel", float64(cancel.Nanoseconds())/float64(n)/1e3, "us/tree")
}
