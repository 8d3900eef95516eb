package assert_test

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
	"github.com/vtest-dev/vtest/scenarios"
)

// mustFail runs a check that must fail and returns its text.
func mustFail(t *testing.T, what string, ev assert.Evidencer, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s passed on a broken network: %s", what, ev.Evidence())
		return
	}
	mustContain(t, what, err, ev, want...)
}

func mustPass(t *testing.T, what string, ev assert.Evidencer, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s failed on a working network: %v", what, err)
	}
}

func TestNeighbour(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair())
	left, right := n.Node("left"), n.Node("right")
	dst := right.IPv4()
	r, err := assert.Neighbour(ctx, left, dst)
	mustFail(t, "before any traffic", r, err, "is missing", "no entry")
	r, err = assert.Neighbour(ctx, left, dst, assert.Absent())
	mustPass(t, "absent before traffic", r, err)
	assert.Reachable(t, left, right)
	r, err = assert.Neighbour(ctx, left, dst, assert.MAC("right:eth0"))
	mustPass(t, "resolved with right's MAC", r, err)
	if r != nil && r.MAC.String() != right.Interface("eth0").MAC.String() {
		t.Errorf("MAC %s", r.MAC)
	}
	r, err = assert.Neighbour(ctx, left, dst, assert.MAC("02:00:00:00:00:99"))
	mustFail(t, "wrong MAC", r, err, "wrong MAC", "lladdr")
	r, err = assert.Neighbour(ctx, left, dst, assert.Expect("permanent"))
	mustFail(t, "wrong state", r, err, "wrong state")
	r, err = assert.Neighbour(ctx, left, dst, assert.Absent())
	mustFail(t, "absent after traffic", r, err, "exists")
	// The scenario form resolves node names.
	if res := assert.NeighbourEntry("left", "right", assert.Expect("reachable"))(ctx, n); res.Err != nil {
		t.Errorf("scenario form: %v", res.Err)
	}
}

func TestNeighbourIPv6(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := pair()
	s.IPv6 = true
	n := scenario.New(t, s)
	left, right := n.Node("left"), n.Node("right")
	r, err := assert.Neighbour(ctx, left, right.IPv6())
	mustFail(t, "before traffic", r, err, "is missing")
	assert.Reachable(t, left, right, assert.IPv6())
	r, err = assert.Neighbour(ctx, left, right.IPv6(), assert.MAC("right:eth0"))
	mustPass(t, "IPv6 neighbour", r, err)
}

func TestFDB(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, scenarios.Bridge())
	sw := n.Node("br0")
	ns1 := n.Node("ns1").Interface("eth0").MAC
	r, err := assert.FDBLookup(ctx, sw, ns1)
	mustFail(t, "before traffic", r, err, "is missing")
	assert.Reachable(t, n.Node("ns1"), n.Node("ns2"))
	r, err = assert.FDBLookup(ctx, sw, ns1, assert.Via("eth0"))
	mustPass(t, "learned on eth0", r, err)
	if r != nil && r.Kind != "learned" {
		t.Errorf("kind %s", r.Kind)
	}
	r, err = assert.FDBLookup(ctx, sw, ns1, assert.Via("eth1"))
	mustFail(t, "wrong port", r, err, "wrong port", "dev eth0")
	r, err = assert.FDBLookup(ctx, sw, ns1, assert.Absent())
	mustFail(t, "absent", r, err, "exists")
	other, _ := net.ParseMAC("02:00:00:00:00:99")
	r, err = assert.FDBLookup(ctx, sw, other, assert.Absent())
	mustPass(t, "unknown MAC absent", r, err)
	if res := assert.FDBEntry("br0", "ns2:eth0", assert.Via("eth1"))(ctx, n); res.Err != nil {
		t.Errorf("scenario form: %v", res.Err)
	}
}

func TestRouteLookup(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, scenarios.Routed())
	client := n.Node("client")
	dst := n.Node("server").IPv4()
	r, err := assert.RouteLookup(ctx, client, dst, assert.Gateway("10.0.1.2"), assert.Via("eth0"), assert.Source(netip.MustParseAddr("10.0.1.1")))
	mustPass(t, "route via the router", r, err)
	r, err = assert.RouteLookup(ctx, client, dst, assert.Gateway("10.0.1.9"))
	mustFail(t, "wrong gateway", r, err, "gateway 10.0.1.2", "want via 10.0.1.9")
	r, err = assert.RouteLookup(ctx, client, dst, assert.PathMTU(1280))
	mustFail(t, "no PMTU exception", r, err, "path MTU 0")
	delDefaultRoute(t, client)
	r, err = assert.RouteLookup(ctx, client, dst)
	mustFail(t, "no route", r, err, "no route", "network is unreachable")
}

func TestLinkAndSysctl(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, scenarios.Routed())
	router := n.Node("router")
	lr, err := assert.LinkStatus(ctx, router, "eth1")
	mustPass(t, "link up", lr, err)
	if err := n.Apply(ctx, scenario.LinkDown("server:eth0")); err != nil {
		t.Fatal(err)
	}
	lr, err = assert.LinkStatus(ctx, router, "eth1")
	mustFail(t, "peer down", lr, err, "no-carrier")
	lr, err = assert.LinkStatus(ctx, router, "eth1", assert.Expect("no-carrier"))
	mustPass(t, "no carrier expected", lr, err)
	if res := assert.LinkIs("server:eth0", assert.Expect("down"))(ctx, n); res.Err != nil {
		t.Errorf("scenario form: %v", res.Err)
	}
	sr, err := assert.SysctlValue(ctx, router, "net.ipv4.ip_forward", "1")
	mustPass(t, "forwarding on", sr, err)
	setSysctl(t, router, "net.ipv4.ip_forward", "0")
	sr, err = assert.SysctlValue(ctx, router, "net.ipv4.ip_forward", "1")
	mustFail(t, "forwarding off", sr, err, "ip_forward is 0")
}

func TestCounters(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenarios.Routed()
	n := scenario.New(t, s)
	mark := assert.MarkCounters("router:eth1")
	rose := assert.CountersRose("router:eth1", assert.TxPackets, 3, 5) // + ARP
	if res := rose(ctx, n); res.Err == nil || !strings.Contains(res.Err.Error(), "MarkCounters") {
		t.Errorf("a check without a mark: %v", res.Err)
	}
	if err := mark.Run(ctx, n); err != nil {
		t.Fatal(err)
	}
	assert.Reachable(t, n.Node("client"), n.Node("server"), assert.Count(3), assert.Interval(time.Millisecond))
	if res := rose(ctx, n); res.Err != nil {
		t.Errorf("3 forwarded echo requests: %v", res.Err)
	}
	if err := mark.Run(ctx, n); err != nil {
		t.Fatal(err)
	}
	res := rose(ctx, n)
	mustFail(t, "no traffic", scenarioEvidence(res.Evidence), res.Err, "tx_packets rose by 0")
	ft := &fakeT{TB: t}
	if assert.CountersRoseDuring(ft, n.Node("router"), "eth1", assert.RxDropped, 1, ^uint64(0), func() {}) || !ft.failed {
		t.Error("CountersRoseDuring passed without drops")
	}
}

type scenarioEvidence string

func (s scenarioEvidence) Evidence() string { return string(s) }

func TestConntrack(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, scenarios.NAT())
	gw, outside := n.Node("gw"), n.Node("outside")
	r, err := assert.Conntrack(ctx, gw, outside.IPv4())
	mustFail(t, "before traffic", r, err, "no flow")
	assert.Reachable(t, n.Node("a1"), outside)
	r, err = assert.Conntrack(ctx, gw, outside.IPv4())
	mustPass(t, "after a ping", r, err)
	if r != nil && !strings.Contains(r.Evidence(), "icmp 10.0.1.") {
		t.Errorf("evidence %s", r.Evidence())
	}
	r, err = assert.Conntrack(ctx, gw, outside.IPv4(), assert.Absent())
	mustFail(t, "absent", r, err, "tracks a flow")
}
