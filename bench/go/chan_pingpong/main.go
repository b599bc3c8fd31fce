// chan_pingpong: the peer of gort_bench_chan pingpong. Two goroutines bounce
// a value over two unbuffered channels, 1e6 round trips after a warm-up of a
// tenth; ns per round trip.
package main

import (
	"time"

	"gortbench/internal/bench"
)

const roundTrips = 1000000

func main() {
	n := int64(bench.Size(roundTrips))
	ping, pong := make(chan int64), make(chan int64)
	done := make(chan struct{})
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(done)
	}()
	bounce := func(k int64) int64 {
		var s int64
		for i := int64(0); i < k; i++ {
			ping <- i
			s += <-pong
		}
		return s
	}
	bounce(n / 10)
	start := time.Now()
	s := bounce(n)
	elapsed := time.Since(start)
	close(ping)
	<-done
	if s != n*(n-1)/2+n {
		bench.Fail("bad sum")
	}
	bench.Result("chan_pingpong", bench.PerOp(elapsed, int(n)), "ns/roundtrip")
}
