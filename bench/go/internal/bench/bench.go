// Package bench is what the Go peers of gort's benchmark programs share: the
// command line (the word quick divides every size by 10, as it does for
// gort's programs; other words are the program's own), failing loudly, and
// the RESULT lines the runner (bench/run.mjs) parses. A program prints its
// figures under the names gort's programs use, without a _pN suffix: the
// runner knows the GOMAXPROCS it set.
package bench

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// quickDivisor is what quick divides every size by (gort's programs: scale_div).
const quickDivisor = 10

var (
	// Quick is set by the word quick on the command line.
	Quick bool
	// Args are the other words of the command line.
	Args []string
)

func init() {
	for _, a := range os.Args[1:] {
		if a == "quick" {
			Quick = true
		} else {
			Args = append(Args, a)
		}
	}
}

// Size is n, divided by quickDivisor in quick mode.
func Size(n int) int {
	if Quick {
		return n / quickDivisor
	}
	return n
}

// Arg is the i-th word of the command line after quick, or def.
func Arg(i int, def string) string {
	if i < len(Args) {
		return Args[i]
	}
	return def
}

// Fail reports a wrong result and exits non-zero, as gort's programs do.
func Fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s: %s\n", os.Args[0], fmt.Sprintf(format, args...))
	os.Exit(1)
}

// Result prints one figure: RESULT <name> <value> <unit>.
func Result(name string, value float64, unit string) {
	fmt.Printf("RESULT %s %s %s\n", name, format(value), unit)
}

func format(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.4f", v)
	}
}

// Pauses prints every stop-the-world pause of a program, in microseconds:
// PAUSES <name> <us> <us> ... (the runner draws their histogram).
func Pauses(name string, pauses []time.Duration) {
	var b strings.Builder
	b.WriteString("PAUSES " + name)
	for _, p := range pauses {
		fmt.Fprintf(&b, " %.1f", float64(p.Nanoseconds())/1e3)
	}
	fmt.Println(b.String())
}

// Percentile is the p-th percentile of sorted ds, picked as gort's bench_gc
// picks it (index (n-1)*p/100).
func Percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}

// PerOp is elapsed divided by n, in nanoseconds.
func PerOp(elapsed time.Duration, n int) float64 {
	return float64(elapsed.Nanoseconds()) / float64(n)
}
