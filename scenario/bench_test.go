package scenario_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// BenchmarkTwoNamespaces is the two-namespace veth scenario: build, one
// ping, teardown. Goal: ≤ 3 ms per iteration. Besides the mean (ns/op),
// which carries the kernel's deferred freeing of earlier iterations'
// namespaces (it runs in a kernel worker and holds the RTNL lock that
// building needs), it reports the median iteration (p50-ms) and the 90th
// percentile (p90-ms).
func BenchmarkTwoNamespaces(b *testing.B) {
	hostcheck.RequireRoot(b)
	s := pair("bench")
	var took []time.Duration
	for b.Loop() {
		total, _, _ := twoNamespacesOnce(b, s, false)
		took = append(took, total)
	}
	slices.Sort(took)
	b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
	b.ReportMetric(ms(took[len(took)*9/10]), "p90-ms")
}

func star(hosts int) *scenario.Spec {
	s := scenario.Define("star", "")
	s.Switch("sw")
	for i := range hosts {
		h := fmt.Sprintf("h%d", i)
		s.Host(h)
		s.Link(h, "sw")
	}
	return s
}

// BenchmarkSwitch50 builds one switch with 50 hosts and tears it down,
// reporting both phases. Goals: build ≤ 100 ms, teardown ≤ 10 ms.
func BenchmarkSwitch50(b *testing.B) {
	hostcheck.RequireRoot(b)
	s := star(50)
	ctx := context.Background()
	var build, down time.Duration
	for b.Loop() {
		t0 := time.Now()
		n, err := scenario.Build(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := n.Close(); err != nil {
			b.Fatal(err)
		}
		build += t1.Sub(t0)
		down += time.Since(t1)
	}
	b.ReportMetric(float64(build.Milliseconds())/float64(b.N), "build-ms/op")
	b.ReportMetric(float64(down.Microseconds())/1000/float64(b.N), "teardown-ms/op")
}

// BenchmarkStepLinkDownUp is two steps: a veth end down, then up again
// (LinkUp returns once both ends are operationally up). Goal: ≤ 1 ms per
// step, so ≤ 2 ms per iteration.
func BenchmarkStepLinkDownUp(b *testing.B) {
	hostcheck.RequireRoot(b)
	n := scenario.New(b, pair("bench-steps"))
	ctx := context.Background()
	down, up := scenario.LinkDown("left:eth0"), scenario.LinkUp("left:eth0")
	for b.Loop() {
		if err := down.Run(ctx, n); err != nil {
			b.Fatal(err)
		}
		if err := up.Run(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStepRouteAdd is two steps: a route added, then deleted.
// Goal: ≤ 1 ms per step.
func BenchmarkStepRouteAdd(b *testing.B) {
	hostcheck.RequireRoot(b)
	n := scenario.New(b, pair("bench-route"))
	ctx := context.Background()
	add, del := scenario.AddRoute("left", "10.99.0.0/16", "right"), scenario.DelRoute("left", "10.99.0.0/16")
	for b.Loop() {
		if err := add.Run(ctx, n); err != nil {
			b.Fatal(err)
		}
		if err := del.Run(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAbandonStuckCheck runs a scenario whose check ignores its
// context, under a 50 ms timeout, and reports how long past the timeout
// plus the grace the run took to come back. Goal: ≤ 100 ms over the grace.
func BenchmarkAbandonStuckCheck(b *testing.B) {
	hostcheck.RequireRoot(b)
	if b.N > 5 {
		b.Skip("each iteration waits out the 1 s grace: run with -benchtime 3x (make bench does)")
	}
	s := pair("bench-abandon")
	s.Check("ignores its context", func(ctx context.Context, n *scenario.Network) scenario.Result {
		time.Sleep(time.Hour)
		return scenario.Result{}
	})
	const timeout = 50 * time.Millisecond
	var over time.Duration
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		start := time.Now()
		out := scenario.Run(ctx, s, scenario.RunOptions{})
		over += time.Since(start) - timeout - scenario.DefaultGrace
		cancel()
		if out.Status != scenario.Fail {
			b.Fatalf("%s: %s", out.Status, out.Message)
		}
	}
	b.ReportMetric(float64(over.Microseconds())/float64(b.N)/1000, "ms-over-grace/op")
}
