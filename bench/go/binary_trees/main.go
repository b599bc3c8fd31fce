// binary_trees: the peer of gort_bench_gc binary_trees_dN (the Computer
// Language Benchmarks Game program, sequential): `binary_trees N` builds
// and checks the trees of depth N, measured as gort's are (internal/gcstats).
package main

import (
	"strconv"

	"gortbench/internal/bench"
	"gortbench/internal/gcstats"
)

const minDepth = 4

type node struct{ left, right *node }

func bottomUp(depth int) *node {
	n := &node{}
	if depth > 0 {
		n.left = bottomUp(depth - 1)
		n.right = bottomUp(depth - 1)
	}
	return n
}

func (n *node) check() int {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func binaryTrees(maxDepth int) {
	if bottomUp(maxDepth+1).check() != 2<<(maxDepth+1)-1 {
		bench.Fail("stretch tree: bad check")
	}
	longLived := bottomUp(maxDepth)
	for d := minDepth; d <= maxDepth; d += 2 {
		iterations := 1 << (maxDepth - d + minDepth)
		check := 0
		for i := 0; i < iterations; i++ {
			check += bottomUp(d).check()
		}
		if check != iterations*(2<<d-1) {
			bench.Fail("depth %d: bad check", d)
		}
	}
	if longLived.check() != 2<<maxDepth-1 {
		bench.Fail("long-lived tree: bad check")
	}
}

func main() {
	depth, err := strconv.Atoi(bench.Arg(0, "16"))
	if err != nil {
		bench.Fail("usage: binary_trees DEPTH")
	}
	gcstats.Measure("binary_trees_d"+strconv.Itoa(depth), func() { binaryTrees(depth) })
}
