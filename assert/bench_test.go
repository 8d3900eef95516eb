package assert_test

import (
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// BenchmarkReach is one reachability check (one ICMP echo, pro-bing) on a
// veth. Goal: ≤ 10 ms.
func BenchmarkReach(b *testing.B) {
	hostcheck.RequireRoot(b)
	n := scenario.New(b, pair())
	check := assert.Reach("left", "right")
	for b.Loop() {
		if r := check(ctx, n); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

// BenchmarkIsolated is one isolation check against a node that drops ICMP,
// with the default 500 ms timeout: it must take the timeout, not more.
func BenchmarkIsolated(b *testing.B) {
	hostcheck.RequireRoot(b)
	n := scenario.New(b, pair())
	dropICMP(b, n.Node("right"))
	var worst time.Duration
	for b.Loop() {
		start := time.Now()
		r, err := assert.Isolated(ctx, n.Node("left"), n.Node("right").IPv4())
		if err != nil || r.Verdict != "no reply" {
			b.Fatal(err, r.Evidence())
		}
		worst = max(worst, time.Since(start))
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}
