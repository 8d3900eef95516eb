package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkTwoNamespaces-2   	     100	   3227732 ns/op	         2.614 p50-ms	         5.122 p90-ms
BenchmarkTwoNamespaces-2   	     100	   3000000 ns/op	         2.500 p50-ms	         5.000 p90-ms
BenchmarkTwoNamespaces-2   	     100	   4000000 ns/op	         2.900 p50-ms	         5.000 p90-ms
BenchmarkSwitch50-2        	      30	  90210258 ns/op	        88.00 build-ms/op	         1.939 teardown-ms/op
BenchmarkSwitch50-2        	      30	  90210258 ns/op	        95.00 build-ms/op	         2.000 teardown-ms/op
BenchmarkSwitch50-2        	      30	  90210258 ns/op	        91.00 build-ms/op	         1.000 teardown-ms/op
BenchmarkStarProcess-2   	       1	20827069451 ns/op	        20.20 fastest-ratio	      4318 large-fastest-ms	      1000 large-hosts	      5531 large-ms	        51.55 large-peak-rss-MiB	         0.9878 per-host-ratio	        19.76 ratio	       213.7 star50-fastest-ms	       280.0 star50-ms	        23.57 star50-peak-rss-MiB
PASS
ok  	github.com/vtest-dev/vtest/scenario	12.3s
`

// TestReport: the block has every figure, medians of the runs; a missing
// benchmark is named and fails the report.
func TestReport(t *testing.T) {
	res, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if !report(&b, res) {
		t.Fatalf("report incomplete:\n%s", b.String())
	}
	for _, want := range []string{
		"star50,   whole process, pre-installed neighbours: median of 3 280 ms, fastest 214 ms, peak RSS 23.6 MiB",
		"star1000, whole process, pre-installed neighbours: median of 3 5531 ms, fastest 4318 ms, peak RSS 51.5 MiB",
		"ratio large/star50: medians 19.76, fastest 20.20",
		"switch + 50 hosts build: median of 3 runs 91.0 ms",
		"two namespaces, build + ping + teardown: median of 3 runs 3.23 ms mean, 2.61 ms median iteration",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	delete(res, "Switch50")
	b.Reset()
	if report(&b, res) || !strings.Contains(b.String(), "(missing: Switch50 build-ms/op)") {
		t.Errorf("without Switch50, report passed or did not name it:\n%s", b.String())
	}
}
