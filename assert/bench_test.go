package assert_test

import (
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// BenchmarkReach is one reachability check (one ICMP echo through a ping
// socket) on a veth. Goal: ≤ 10 ms.
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
		if err != nil || r.Verdict != assert.Filtered {
			b.Fatal(err, r.Evidence())
		}
		worst = max(worst, time.Since(start))
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}

// chain4 is client — r1 — r2 — r3 — server: four hops.
func chain4() *scenario.Spec {
	s := scenario.Define("chain4", "")
	s.Host("client").Route("default", "r1")
	s.Router("r1").Route("default", "r2")
	s.Router("r2").Route("10.0.4.0/24", "r3").Route("10.0.1.0/24", "r1")
	s.Router("r3").Route("default", "r2")
	s.Host("server")
	s.Link("client", "r1").Subnet("10.0.1.0/24")
	s.Link("r1", "r2").Subnet("10.0.2.0/24")
	s.Link("r2", "r3").Subnet("10.0.3.0/24")
	s.Link("r3", "server").Subnet("10.0.4.0/24")
	return s
}

// BenchmarkPathWalk is the path walk of a failed 4-hop check: the server
// has no route back, so the walk goes all the way forward and fails on the
// return path. Goal: ≤ 20 ms.
func BenchmarkPathWalk(b *testing.B) {
	hostcheck.RequireRoot(b)
	n := scenario.New(b, chain4())
	client, server := n.Node("client"), n.Node("server").IPv4()
	for b.Loop() {
		w := assert.WalkPath(client, server)
		if len(w.Forward) != 5 || w.Break == "" {
			b.Fatal(w.Evidence())
		}
	}
}

// BenchmarkThroughput is the TCP throughput check with its defaults on a
// veth. Goal: ≤ 2 s per run (it sends for a warm-up of 0.25 to 0.5 s,
// then measures for 1 s).
func BenchmarkThroughput(b *testing.B) {
	hostcheck.RequireRoot(b)
	n := scenario.New(b, pair())
	check := assert.Rate("left", "right")
	var worst time.Duration
	for b.Loop() {
		start := time.Now()
		if r := check(ctx, n); r.Err != nil {
			b.Fatal(r.Err)
		}
		worst = max(worst, time.Since(start))
	}
	b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
}
