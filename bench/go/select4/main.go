// select4: the peer of gort_bench_chan select4 and select4_unbuf. Main
// selects over 4 channels of capacity 128 (select4) or unbuffered
// (`select4 unbuf`), fed by 4 producers, 4e6 selects (after a warm-up of a
// tenth); ns per select.
package main

import (
	"time"

	"gortbench/internal/bench"
)

const (
	selects  = 4000000
	capacity = 128
)

func selectAll(n, capacity int) time.Duration {
	var cs [4]chan int64
	for i := range cs {
		cs[i] = make(chan int64, capacity)
	}
	per := int64(n / 4)
	start := time.Now()
	for _, c := range cs {
		go func(c chan int64) {
			for j := int64(0); j < per; j++ {
				c <- j
			}
		}(c)
	}
	var s int64
	for k := int64(0); k < 4*per; k++ {
		select {
		case v := <-cs[0]:
			s += v
		case v := <-cs[1]:
			s += v
		case v := <-cs[2]:
			s += v
		case v := <-cs[3]:
			s += v
		}
	}
	elapsed := time.Since(start)
	if s != 4*(per*(per-1)/2) {
		bench.Fail("bad sum")
	}
	return elapsed
}

func main() {
	name, c := "select4", capacity
	if bench.Arg(0, "") == "unbuf" {
		name, c = "select4_unbuf", 0
	}
	n := bench.Size(selects)
	selectAll(n/10, c)
	bench.Result(name, bench.PerOp(selectAll(n, c), n/4*4), "ns/select")
}
