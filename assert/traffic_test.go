package assert_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// limit puts a tbf qdisc of rate Mbit/s on a node's interface.
func limit(t testing.TB, nd *scenario.Node, iface string, mbit uint64) {
	t.Helper()
	l, err := nd.Netlink().LinkByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	rate := mbit * 1e6 / 8 // bytes per second
	q := &netlink.Tbf{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT},
		Rate: rate, Limit: uint32(rate / 10), Buffer: netlink.Xmittime(rate, 16<<10)}
	if err := nd.Netlink().QdiscAdd(q); err != nil {
		t.Fatal(err)
	}
}

func TestThroughput(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair())
	left, right := n.Node("left"), n.Node("right")
	short := assert.For(300 * time.Millisecond)
	r, err := assert.Throughput(ctx, left, right.IPv4(), short, assert.Mbps(50, 0))
	mustPass(t, "unlimited veth", r, err)
	fast := 0.0
	if r != nil {
		fast = r.Mbps
	}
	r, err = assert.Throughput(ctx, left, right.IPv4(), short, assert.Mbps(1e6, 0))
	mustFail(t, "an unmeetable bound", r, err, "want ≥ 1000000.0 Mbit/s")
	r, err = assert.Throughput(ctx, left, right.IPv4(), short, assert.Mbps(0, 1))
	mustFail(t, "an upper bound", r, err, "want ≤ 1.0 Mbit/s")

	limit(t, left, "eth0", 20)
	r, err = assert.Throughput(ctx, left, right.IPv4(), assert.Mbps(17, 23), assert.Port(5202))
	mustPass(t, "tbf 20 Mbit/s within ±15 %", r, err)
	if r != nil {
		t.Logf("%s (unlimited: %.1f Mbit/s)", r.Evidence(), fast)
	}
	if r != nil && r.Mbps > fast/2 {
		t.Errorf("the limited link (%.1f) is not slower than the unlimited one (%.1f)", r.Mbps, fast)
	}
	if r != nil && r.Elapsed > 2*time.Second {
		t.Errorf("default run took %v", r.Elapsed)
	}
	if res := assert.Rate("left", "right", assert.Mbps(50, 0), short)(ctx, n); res.Err == nil {
		t.Errorf("scenario form: 50 Mbit/s through a 20 Mbit/s limit: %s", res.Evidence)
	}
	if _, err := assert.Throughput(ctx, left, right.IPv4(), assert.For(3*time.Second)); err == nil {
		t.Error("a duration beyond the timeout was accepted")
	}
}

// ecmp is client — r — (two links) — server, with 10.9.9.9 on the
// server's loopback reached through a multipath route on r.
func ecmp(t *testing.T, l4 bool) *scenario.Network {
	s := scenario.Define("ecmp", "")
	s.Host("client").Route("default", "r")
	rs := s.Router("r")
	s.Host("server").Route("default", "10.0.2.1")
	s.Link("client", "r").Subnet("10.0.1.0/24")
	s.Link("r:a", "server:a").Subnet("10.0.2.0/24")
	s.Link("r:b", "server:b").Subnet("10.0.3.0/24")
	if l4 {
		rs.Sysctl("net.ipv4.fib_multipath_hash_policy", "1")
	}
	n := scenario.New(t, s)
	srv := n.Node("server")
	lo, _ := srv.Netlink().LinkByName("lo")
	a, _ := netlink.ParseAddr("10.9.9.9/32")
	if err := srv.Netlink().AddrAdd(lo, a); err != nil {
		t.Fatal(err)
	}
	r := n.Node("r")
	_, dst, _ := net.ParseCIDR("10.9.9.9/32")
	ra, rb := r.Interface("a"), r.Interface("b")
	err := r.Netlink().RouteAdd(&netlink.Route{Dst: dst, MultiPath: []*netlink.NexthopInfo{
		{LinkIndex: ra.Index, Gw: net.ParseIP("10.0.2.2")}, {LinkIndex: rb.Index, Gw: net.ParseIP("10.0.3.2")}}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFlowSpread(t *testing.T) {
	hostcheck.RequireRoot(t)
	t.Run("L4 hash spreads", func(t *testing.T) {
		n := ecmp(t, true)
		r, err := assert.FlowSpread(ctx, n.Node("client"), netipMust("10.9.9.9"), n.Node("r"), []string{"a", "b"}, assert.Count(32))
		mustPass(t, "spread", r, err)
	})
	t.Run("L3 hash keeps one path", func(t *testing.T) {
		n := ecmp(t, false)
		r, err := assert.FlowSpread(ctx, n.Node("client"), netipMust("10.9.9.9"), n.Node("r"), []string{"a", "b"}, assert.Count(32))
		mustFail(t, "no spread", r, err, "carried none")
	})
}

func netipMust(s string) netip.Addr { return netip.MustParseAddr(s) }
