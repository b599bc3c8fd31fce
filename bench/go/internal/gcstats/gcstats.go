// Package gcstats measures a program the way gort's bench_gc does: wall
// time, collector cycles, the longest, median and 95th-percentile
// stop-the-world pause per cycle (Go's PauseNs, both pauses of a cycle
// summed), HeapSys (which Go, like gort, keeps as its peak) and the
// process's peak resident memory; and prints every pause for the
// histograms. The collector's CPU share the runner reads from gctrace
// (GODEBUG=gctrace=1): GCCPUFraction leaves out the marking on idle Ps.
package gcstats

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gortbench/internal/bench"
)

// pauseRing is the length of MemStats.PauseNs.
const pauseRing = 256

// Measure runs program and prints its figures under name.
func Measure(name string, program func()) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	before := m.NumGC
	start := time.Now()
	program()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&m)
	cycles := m.NumGC - before
	k := cycles
	if k > pauseRing {
		k = pauseRing
	}
	pauses := make([]time.Duration, k)
	for i := uint32(0); i < k; i++ {
		pauses[i] = time.Duration(m.PauseNs[(m.NumGC-1-i)%pauseRing])
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	bench.Result(name+"_time", float64(elapsed.Nanoseconds())/1e6, "ms")
	bench.Result(name+"_numgc", float64(cycles), "count")
	bench.Result(name+"_pause_max", us(bench.Percentile(pauses, 100)), "us")
	bench.Result(name+"_pause_p50", us(bench.Percentile(pauses, 50)), "us")
	bench.Result(name+"_pause_p95", us(bench.Percentile(pauses, 95)), "us")
	bench.Result(name+"_heapsys", float64(m.HeapSys)/1048576, "MB")
	if kb, ok := peakRSSKB(); ok {
		bench.Result(name+"_rss", kb/1024, "MB")
	}
	bench.Pauses(name, pauses)
}

// peakRSSKB is the process's peak resident memory in kB (Linux's VmHWM; on
// js/wasm, where files are Node's, the Node process's).
func peakRSSKB() (float64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if line := lines.Text(); strings.HasPrefix(line, "VmHWM:") {
			fields := strings.Fields(strings.TrimPrefix(line, "VmHWM:"))
			if len(fields) == 0 {
				return 0, false
			}
			kb, err := strconv.ParseFloat(fields[0], 64)
			return kb, err == nil
		}
	}
	return 0, false
}
