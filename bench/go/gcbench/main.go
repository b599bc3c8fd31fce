// gcbench: the peer of gort_bench_gc gcbench (after Boehm's, Ellis' and
// Kovac's GCBench): trees built top-down and bottom-up at growing depths
// beside a long-lived tree and a large array of doubles, measured as gort's
// (internal/gcstats). quick lowers every depth by quickDepthCut, as
// gort_bench_gc does.
package main

import (
	"gortbench/internal/bench"
	"gortbench/internal/gcstats"
)

const (
	stretchDepth   = 18
	longLivedDepth = 16
	arraySize      = 500000
	minDepth       = 4
	maxDepth       = 16
	quickDepthCut  = 2
)

type node struct{ left, right *node }

func treeSize(depth int) int { return 1<<(depth+1) - 1 }

// populate builds top-down: children are stored into a node already in the tree.
func populate(depth int, n *node) {
	if depth <= 0 {
		return
	}
	n.left, n.right = &node{}, &node{}
	populate(depth-1, n.left)
	populate(depth-1, n.right)
}

func makeTree(depth int) *node {
	if depth <= 0 {
		return &node{}
	}
	return &node{makeTree(depth - 1), makeTree(depth - 1)}
}

func (n *node) count() int {
	if n == nil {
		return 0
	}
	return 1 + n.left.count() + n.right.count()
}

func gcbench(cut int) {
	stretch, longLivedD, maxD := stretchDepth-cut, longLivedDepth-cut, maxDepth-cut
	if makeTree(stretch).count() != treeSize(stretch) {
		bench.Fail("stretch tree: bad count")
	}
	longLived := &node{}
	populate(longLivedD, longLived)
	array := make([]float64, arraySize)
	for i := 0; i < arraySize/2; i++ {
		array[i] = 1.0 / float64(i)
	}
	for d := minDepth; d <= maxD; d += 2 {
		iters := 2 * treeSize(stretch) / treeSize(d)
		for i := 0; i < iters; i++ {
			t := &node{}
			populate(d, t)
			if t.count() != treeSize(d) {
				bench.Fail("top-down tree: bad count")
			}
		}
		for i := 0; i < iters; i++ {
			if makeTree(d).count() != treeSize(d) {
				bench.Fail("bottom-up tree: bad count")
			}
		}
	}
	if longLived.count() != treeSize(longLivedD) || array[1000] != 1.0/1000 {
		bench.Fail("long-lived data lost")
	}
}

func main() {
	cut := 0
	if bench.Quick {
		cut = quickDepthCut
	}
	gcstats.Measure("gcbench", func() { gcbench(cut) })
}
