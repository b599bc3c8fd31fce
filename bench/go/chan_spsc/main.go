// chan_spsc: the peer of gort_bench_chan spsc. One goroutine sends 1e7 ints
// into a channel of capacity 128, main receives them until it is closed
// (after a warm-up of a tenth); ns per message.
package main

import (
	"time"

	"gortbench/internal/bench"
)

const (
	messages = 10000000
	capacity = 128
)

func transfer(n int64) time.Duration {
	ch := make(chan int64, capacity)
	start := time.Now()
	go func() {
		for i := int64(0); i < n; i++ {
			ch <- i
		}
		close(ch)
	}()
	var s int64
	for v := range ch {
		s += v
	}
	elapsed := time.Since(start)
	if s != n*(n-1)/2 {
		bench.Fail("bad sum")
	}
	return elapsed
}

func main() {
	n := int64(bench.Size(messages))
	transfer(n / 10)
	bench.Result("chan_buffered_spsc", bench.PerOp(transfer(n), int(n)), "ns/msg")
}
