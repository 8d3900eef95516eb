package assert_test

import (
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
	"github.com/vtest-dev/vtest/scenarios"
)

func TestPMTUProbe(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, chain())
	client, server := n.Node("client"), n.Node("server").IPv4()
	r, err := assert.PMTUProbe(ctx, client, server, assert.Size(1400))
	mustPass(t, "1400 bytes through 1500-byte links", r, err)
	if err := n.Apply(ctx, scenario.SetMTU("r1:eth1", 1280)); err != nil {
		t.Fatal(err)
	}
	if err := n.Apply(ctx, scenario.SetMTU("r2:eth0", 1280)); err != nil {
		t.Fatal(err)
	}
	r, err = assert.PMTUProbe(ctx, client, server, assert.Size(1400))
	mustFail(t, "1400 bytes through a 1280-byte link", r, err, "fragmentation needed, MTU 1280, from 10.0.1.2")
	r, err = assert.PMTUProbe(ctx, client, server, assert.Size(1400), assert.PathMTU(1280))
	mustPass(t, "expected MTU 1280", r, err)
	r, err = assert.PMTUProbe(ctx, client, server, assert.Size(1400), assert.PathMTU(1400))
	mustFail(t, "wrong expected MTU", r, err, "want fragmentation needed with MTU 1400")
	r, err = assert.PMTUProbe(ctx, client, server, assert.Size(1280))
	mustPass(t, "1280 bytes fit", r, err)
	// The kernel learned the exception from the ICMP error.
	rr, err := assert.RouteLookup(ctx, client, server, assert.PathMTU(1280))
	mustPass(t, "PMTU exception", rr, err)
}

func TestPMTUProbeIPv6(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenarios.Routed()
	s.IPv6 = true
	n := scenario.New(t, s)
	client, server := n.Node("client"), n.Node("server").IPv6()
	if err := n.Apply(ctx, scenario.SetMTU("router:eth1", 1280)); err != nil {
		t.Fatal(err)
	}
	if err := n.Apply(ctx, scenario.SetMTU("server:eth0", 1280)); err != nil {
		t.Fatal(err)
	}
	if res := assert.PMTU("client", "server", assert.IPv6(), assert.Size(1400), assert.PathMTU(1280))(ctx, n); res.Err != nil {
		t.Errorf("packet too big: %v", res.Err)
	}
	r, err := assert.PMTUProbe(ctx, client, server, assert.Size(1400))
	mustFail(t, "IPv6 1400 through 1280", r, err, "MTU 1280")
}

func TestTraceHop(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, chain())
	client := n.Node("client")
	server := n.Node("server").IPv4()
	r, err := assert.TraceHop(ctx, client, server, 2, netipMust("10.0.2.2"))
	mustPass(t, "hop 2 is r2's ingress", r, err)
	r, err = assert.TraceHop(ctx, client, server, 2, netipMust("10.0.3.1"))
	mustFail(t, "r2's other address", r, err, "hop 2 answered from 10.0.2.2, want 10.0.3.1")
	if res := assert.HopIs("client", "server", 1, "r1")(ctx, n); res.Err != nil {
		t.Errorf("scenario form: %v", res.Err)
	}
	if err := n.Apply(ctx, scenario.DelRoute("r2", "10.0.1.0/24")); err != nil {
		t.Fatal(err)
	}
	r, err = assert.TraceHop(ctx, client, server, 2, netipMust("10.0.2.2"), assert.Timeout(100*time.Millisecond))
	mustFail(t, "no route back from r2", r, err, "hop 2 answered from nothing")
}
