package scenario_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// overlay is a VXLAN overlay of two sites over a routed underlay: a
// router, two VTEPs each bridging its hosts onto VNI 42, and hosts (nine
// at one site, eight at the other): 20 nodes.
func overlay() *scenario.Spec {
	s := scenario.Define("overlay20", "")
	s.Router("router")
	for k, site := range []struct {
		vtep, underlay, remote string
		hosts                  int
	}{{"vtep-a", "10.50.1.0/24", "10.50.2.1", 9}, {"vtep-b", "10.50.2.0/24", "10.50.1.1", 8}} {
		v := s.Host(site.vtep).Route("default", "router")
		v.Iface("vx0", scenario.VXLAN{VNI: 42, Underlay: "eth0", Remotes: []string{site.remote}})
		br := v.Iface("br0", scenario.Bridge{}).Members("vx0")
		s.Link(site.vtep+":eth0", "router").Subnet(site.underlay)
		for i := range site.hosts {
			h := fmt.Sprintf("h%d-%d", k, i)
			port := fmt.Sprintf("p%d", i)
			br.Members(port)
			s.Host(h)
			s.Link(h, site.vtep+":"+port).Addrs(fmt.Sprintf("192.168.50.%d/24", 10*k+i+1), "")
		}
	}
	return s
}

// BenchmarkVXLANOverlay20 builds the 20-node two-site VXLAN overlay and
// tears it down. Goal: build ≤ 100 ms.
func BenchmarkVXLANOverlay20(b *testing.B) {
	hostcheck.RequireRoot(b)
	s := overlay()
	if len(s.Nodes()) != 20 {
		b.Fatalf("%d nodes", len(s.Nodes()))
	}
	ctx := context.Background()
	var build time.Duration
	for b.Loop() {
		t0 := time.Now()
		n, err := scenario.Build(ctx, s)
		if err != nil {
			b.Fatal(err)
		}
		build += time.Since(t0)
		if err := n.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(build.Microseconds())/1000/float64(b.N), "build-ms/op")
}

// BenchmarkSkipMissingFeature runs a scenario needing a feature this
// kernel lacks: validate, probe (cached after the first run) and skip.
// Goal: ≤ 5 ms.
func BenchmarkSkipMissingFeature(b *testing.B) {
	hostcheck.RequireRoot(b)
	var missing scenario.Feature
	for _, f := range scenario.AllFeatures {
		if err := f.Probe(); errors.Is(err, scenario.ErrNotSupported) {
			missing = f
			break
		}
	}
	if missing == "" {
		b.Skip("this kernel has every feature vtest probes")
	}
	s := overlay()
	s.Needs(missing)
	ctx := context.Background()
	var took time.Duration
	for b.Loop() {
		t0 := time.Now()
		out := scenario.Run(ctx, s, scenario.RunOptions{})
		took += time.Since(t0)
		if out.Status != scenario.Skip {
			b.Fatalf("%s: %s", out.Status, out.Message)
		}
	}
	b.ReportMetric(float64(took.Microseconds())/1000/float64(b.N), "skip-ms/op")
}
