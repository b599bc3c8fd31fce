// chan_contended: the peer of gort_bench_chan contended. 4 producers and 4
// consumers share one channel of capacity 1024, 4e6 messages in all (after a
// warm-up of a tenth); ns per message and M messages per second.
package main

import (
	"sync"
	"time"

	"gortbench/internal/bench"
)

const (
	producers = 4
	consumers = 4
	capacity  = 1024
	messages  = 4000000
)

func contend(total int) (time.Duration, int) {
	ch := make(chan int64, capacity)
	per := int64(total / producers)
	var sums [consumers]int64
	var pwg, cwg sync.WaitGroup
	start := time.Now()
	pwg.Add(producers)
	cwg.Add(consumers)
	for p := 0; p < producers; p++ {
		go func() {
			for i := int64(0); i < per; i++ {
				ch <- i
			}
			pwg.Done()
		}()
	}
	for c := 0; c < consumers; c++ {
		go func(c int) {
			var s int64
			for v := range ch {
				s += v
			}
			sums[c] = s
			cwg.Done()
		}(c)
	}
	pwg.Wait()
	close(ch)
	cwg.Wait()
	elapsed := time.Since(start)
	var s int64
	for _, v := range sums {
		s += v
	}
	if s != producers*per*(per-1)/2 {
		bench.Fail("bad sum")
	}
	return elapsed, int(per * producers)
}

func main() {
	total := bench.Size(messages)
	contend(total / 10)
	elapsed, n := contend(total)
	bench.Result("chan_contended", bench.PerOp(elapsed, n), "ns/msg")
	bench.Result("chan_contended_rate", float64(n)/elapsed.Seconds()/1e6, "Mmsg/s")
}
