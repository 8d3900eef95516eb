// Command benchsummary reads the output of go test -bench (make bench's)
// on its standard input and prints the figures of issue 25: the star of 50
// and of 1000 hosts as whole processes (pre-installed neighbours), their
// ratio and peak RSS, the build of a switch with 50 hosts and the
// two-namespace cycle. It exits 1 when a figure is missing from the input.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	res, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsummary:", err)
		os.Exit(2)
	}
	if !report(os.Stdout, res) {
		os.Exit(1)
	}
}

// report writes the issue-25 block and reports whether every figure was in
// the results.
func report(w io.Writer, res Results) bool {
	ok := true
	line := func(format string, names ...metric) {
		vals := make([]any, len(names))
		for i, m := range names {
			v, found := m.get(res)
			if !found {
				fmt.Fprintf(w, "  (missing: %s %s)\n", m.bench, m.unit)
				ok = false
				return
			}
			vals[i] = v
		}
		fmt.Fprintf(w, format+"\n", vals...)
	}
	fmt.Fprintln(w, "\n=== issue 25: scale and build figures ===")
	line("star50,   whole process, pre-installed neighbours: median of 3 %.0f ms, fastest %.0f ms, peak RSS %.1f MiB",
		med("StarProcess", "star50-ms"), med("StarProcess", "star50-fastest-ms"), med("StarProcess", "star50-peak-rss-MiB"))
	line("star%.0f, whole process, pre-installed neighbours: median of 3 %.0f ms, fastest %.0f ms, peak RSS %.1f MiB (goal ≤ 100 MiB)",
		med("StarProcess", "large-hosts"), med("StarProcess", "large-ms"), med("StarProcess", "large-fastest-ms"), med("StarProcess", "large-peak-rss-MiB"))
	line("ratio large/star50: medians %.2f, fastest %.2f (goal ≤ 20 for 1000 hosts)",
		med("StarProcess", "ratio"), med("StarProcess", "fastest-ratio"))
	line("switch + 50 hosts build: median of %.0f runs %.1f ms (goal ≤ 100 ms), teardown %.2f ms",
		count("Switch50", "build-ms/op"), med("Switch50", "build-ms/op"), med("Switch50", "teardown-ms/op"))
	line("two namespaces, build + ping + teardown: median of %.0f runs %.2f ms mean, %.2f ms median iteration (goal ≤ 3 ms)",
		count("TwoNamespaces", "ns/op"), scaled(med("TwoNamespaces", "ns/op"), 1e-6), med("TwoNamespaces", "p50-ms"))
	return ok
}
