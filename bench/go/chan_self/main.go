// chan_self: the peer of gort_bench_chan self. One goroutine sends then
// receives on a channel of capacity 1, 1e7 times (after a warm-up of a
// tenth); ns per single channel operation.
package main

import (
	"time"

	"gortbench/internal/bench"
)

const pairs = 10000000

func sendRecv(n int64) time.Duration {
	ch := make(chan int64, 1)
	var s int64
	start := time.Now()
	for i := int64(0); i < n; i++ {
		ch <- i
		s += <-ch
	}
	elapsed := time.Since(start)
	if s != n*(n-1)/2 {
		bench.Fail("bad sum")
	}
	return elapsed
}

func main() {
	n := int64(bench.Size(pairs))
	sendRecv(n / 10)
	bench.Result("chan_cap1_self", bench.PerOp(sendRecv(n), int(2*n)), "ns/chanop")
}
