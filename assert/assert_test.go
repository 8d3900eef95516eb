package assert_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
	"github.com/vtest-dev/vtest/scenarios"
)

var ctx = context.Background()

func pair() *scenario.Spec {
	s := scenario.Define("pair", "")
	s.Host("left")
	s.Host("right")
	s.Link("left", "right").Subnet("10.0.0.0/24")
	return s
}

func mustContain(t *testing.T, what string, err error, ev assert.Evidencer, want ...string) {
	t.Helper()
	text := ""
	if err != nil {
		text = err.Error()
	}
	if ev != nil {
		text += "\n" + ev.Evidence()
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s: %q missing from:\n%s", what, w, text)
		}
	}
}

func TestReachability(t *testing.T) {
	hostcheck.RequireRoot(t)
	t.Run("working", func(t *testing.T) {
		n := scenario.New(t, pair())
		r, err := assert.Ping(ctx, n.Node("left"), n.Node("right").IPv4(), assert.Count(3), assert.Interval(time.Millisecond))
		if err != nil || r.Received != 3 {
			t.Fatalf("%v %v", err, r)
		}
		// Targets by node, by node name and by address.
		for _, to := range []assert.Target{n.Node("right"), "right", "10.0.0.2", netip.MustParseAddr("10.0.0.2")} {
			if !assert.Reachable(t, n.Node("left"), to) {
				t.Errorf("target %v", to)
			}
		}
	})
	for _, fault := range []struct {
		name   string
		inject func(t *testing.T, n *scenario.Network)
		want   []string
	}{
		{"link down on one end", func(t *testing.T, n *scenario.Network) { linkDown(t, n.Node("right"), "eth0") }, []string{"not reachable", "0 received"}},
		{"nftables drop rule", func(t *testing.T, n *scenario.Network) { dropICMP(t, n.Node("right")) }, []string{"0 received"}},
		{"wrong address on target", func(t *testing.T, n *scenario.Network) { replaceAddr(t, n.Node("right"), "eth0", "10.0.0.99/24") }, []string{"0 received"}},
	} {
		t.Run(fault.name, func(t *testing.T) {
			n := scenario.New(t, pair())
			dst := n.Node("right").IPv4()
			fault.inject(t, n)
			r, err := assert.Ping(ctx, n.Node("left"), dst, assert.Timeout(300*time.Millisecond))
			if err == nil {
				t.Fatalf("ping passed on a broken network: %s", r.Evidence())
			}
			mustContain(t, fault.name, err, r, fault.want...)
		})
	}
	t.Run("route removed", func(t *testing.T) {
		n := scenario.New(t, scenarios.Routed())
		delDefaultRoute(t, n.Node("client"))
		r, err := assert.Ping(ctx, n.Node("client"), n.Node("server").IPv4(), assert.Timeout(300*time.Millisecond))
		if err == nil {
			t.Fatalf("ping passed without a route: %s", r.Evidence())
		}
		mustContain(t, "route removed", err, r, "no route")
	})
	t.Run("loss tolerance and negative options", func(t *testing.T) {
		n := scenario.New(t, pair())
		if _, err := assert.Ping(ctx, n.Node("left"), n.Node("right").IPv4(), assert.Count(-1)); err == nil {
			t.Error("negative count accepted")
		}
		if _, err := assert.Ping(ctx, n.Node("left"), n.Node("right").IPv4(), assert.Loss(2)); err == nil {
			t.Error("loss 2 accepted")
		}
	})
	t.Run("testing helper fails the test", func(t *testing.T) {
		n := scenario.New(t, pair())
		linkDown(t, n.Node("right"), "eth0")
		ft := &fakeT{TB: t}
		if assert.Reachable(ft, n.Node("left"), n.Node("right"), assert.Timeout(200*time.Millisecond)) || !ft.failed {
			t.Error("Reachable did not fail the test on a broken link")
		}
	})
}

// fakeT records failures instead of failing the real test.
type fakeT struct {
	testing.TB
	failed bool
	msgs   []string
}

func (f *fakeT) Errorf(format string, args ...any) { f.failed = true }
func (f *fakeT) Logf(format string, args ...any)   {}
func (f *fakeT) Helper()                           {}

func TestIsolation(t *testing.T) {
	hostcheck.RequireRoot(t)
	t.Run("fails on a working network", func(t *testing.T) {
		n := scenario.New(t, pair())
		r, err := assert.Isolated(ctx, n.Node("left"), n.Node("right").IPv4())
		if err == nil {
			t.Fatalf("isolation passed between connected nodes: %s", r.Evidence())
		}
		mustContain(t, "working", err, r, "reachable", "echo reply from 10.0.0.2")
	})
	t.Run("no route", func(t *testing.T) {
		n := scenario.New(t, scenarios.Routed())
		delDefaultRoute(t, n.Node("client"))
		r, err := assert.Isolated(ctx, n.Node("client"), n.Node("server").IPv4())
		if err != nil || r.Verdict != assert.NoRoute {
			t.Fatalf("%v: %s", err, r.Evidence())
		}
	})
	t.Run("rejected", func(t *testing.T) {
		n := scenario.New(t, scenarios.Routed())
		rejectForwardedICMP(t, n.Node("router"))
		r, err := assert.Isolated(ctx, n.Node("client"), n.Node("server").IPv4())
		if err != nil || r.Verdict != assert.Rejected {
			t.Fatalf("%v: %s", err, r.Evidence())
		}
		mustContain(t, "rejected", err, r, "administratively prohibited", "from 10.0.1.")
	})
	t.Run("no reply, within the timeout", func(t *testing.T) {
		n := scenario.New(t, pair())
		dropICMP(t, n.Node("right"))
		r, err := assert.Isolated(ctx, n.Node("left"), n.Node("right").IPv4(), assert.Timeout(300*time.Millisecond))
		if err != nil || r.Verdict != assert.Filtered || r.Sent != 3 {
			t.Fatalf("%v: %s", err, r.Evidence())
		}
		// That it never outlasts its timeout is measured by
		// BenchmarkIsolated (worst-ms), not asserted on a noisy clock.
	})
	t.Run("not fooled by a slow reply", func(t *testing.T) {
		n := scenario.New(t, pair())
		slowResponder(t, n.Node("right"), 150*time.Millisecond)
		r, err := assert.Isolated(ctx, n.Node("left"), n.Node("right").IPv4(), assert.Count(1))
		if err == nil {
			t.Fatalf("a reply after 150ms went unnoticed: %s", r.Evidence())
		}
		mustContain(t, "slow", err, r, "reachable")
	})
}

// slowResponder stops the kernel of nd from answering pings and answers
// them itself, late.
func slowResponder(t *testing.T, nd *scenario.Node, delay time.Duration) {
	t.Helper()
	setSysctl(t, nd, "net.ipv4.icmp_echo_ignore_all", "1")
	var c *icmp.PacketConn
	if err := nd.Do(func() (err error) { c, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0"); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, peer, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := icmp.ParseMessage(1, buf[:n])
			if err != nil || m.Type != ipv4.ICMPTypeEcho {
				continue
			}
			reply := icmp.Message{Type: ipv4.ICMPTypeEchoReply, Body: m.Body}
			b, _ := reply.Marshal(nil)
			time.AfterFunc(delay, func() { c.WriteTo(b, peer) })
		}
	}()
}

func TestARP(t *testing.T) {
	hostcheck.RequireRoot(t)
	target := netip.MustParseAddr("10.0.0.2")
	t.Run("answered with the target's MAC", func(t *testing.T) {
		n := scenario.New(t, pair())
		r, err := assert.ARP(ctx, n.Node("left"), "eth0", target)
		if err != nil || r.MAC.String() != n.Node("right").Interface("eth0").MAC.String() {
			t.Fatalf("%v: %s", err, r.Evidence())
		}
		ft := &fakeT{TB: t}
		if assert.ARPResolves(ft, n.Node("left"), "eth0", target, net.HardwareAddr{2, 0, 0, 0, 0, 1}) || !ft.failed {
			t.Error("a reply with another MAC than expected passed")
		}
	})
	for _, fault := range []struct {
		name   string
		inject func(t *testing.T, n *scenario.Network)
	}{
		{"arp_ignore=8 on the target", func(t *testing.T, n *scenario.Network) {
			setSysctl(t, n.Node("right"), "net.ipv4.conf.eth0.arp_ignore", "8")
		}},
		{"link down", func(t *testing.T, n *scenario.Network) { linkDown(t, n.Node("right"), "eth0") }},
		{"wrong address on target", func(t *testing.T, n *scenario.Network) { replaceAddr(t, n.Node("right"), "eth0", "10.0.0.99/24") }},
	} {
		t.Run(fault.name, func(t *testing.T) {
			n := scenario.New(t, pair())
			fault.inject(t, n)
			ft := &fakeT{TB: t}
			if assert.ARPResolves(ft, n.Node("left"), "eth0", target, nil) || !ft.failed {
				t.Error("ARP check passed on a broken network")
			}
			r, err := assert.ARP(ctx, n.Node("left"), "eth0", target)
			if err != nil || r.MAC != nil {
				t.Fatalf("%v: %s", err, r.Evidence())
			}
			mustContain(t, fault.name, nil, r, "no reply")
			if !assert.ARPIgnored(t, n.Node("left"), "eth0", target) {
				t.Error("ARPIgnored failed")
			}
		})
	}
}

func TestLatency(t *testing.T) {
	hostcheck.RequireRoot(t)
	bound := []assert.Bound{assert.Below(assert.P90, 20*time.Millisecond)}
	t.Run("working", func(t *testing.T) {
		n := scenario.New(t, pair())
		r, err := assert.Latency(ctx, n.Node("left"), n.Node("right").IPv4(), bound)
		if err != nil || r.Summary.N != 20 {
			t.Fatalf("%v: %v", err, r)
		}
		s := r.Summary
		if !(s.Min <= s.P50 && s.P50 <= s.P90 && s.P90 <= s.P99 && s.P99 <= s.Max) {
			t.Errorf("statistics out of order: %s", s)
		}
	})
	t.Run("rate limit exceeds the bound", func(t *testing.T) {
		if err := scenario.FeatureTBF.Probe(); err != nil {
			t.Skip(err)
		}
		n := scenario.New(t, pair())
		// 20 kB/s: ~1 kB replies, 2 ms apart, queue up ~50 ms each.
		rateLimit(t, n.Node("right"), "eth0", 20000)
		r, err := assert.Latency(ctx, n.Node("left"), n.Node("right").IPv4(), bound, assert.Size(1000), assert.Count(10))
		if err == nil {
			t.Fatalf("latency passed behind a 2 kB/s rate limit: %s", r.Evidence())
		}
		mustContain(t, "tbf", err, r, "p90 is")
	})
	t.Run("AtLeast fails on a fast link", func(t *testing.T) {
		n := scenario.New(t, pair())
		_, err := assert.Latency(ctx, n.Node("left"), n.Node("right").IPv4(), []assert.Bound{assert.AtLeast(assert.Min, 20*time.Millisecond)})
		if err == nil {
			t.Fatal("min ≥ 20ms passed on a veth")
		}
	})
}

func TestForwarding(t *testing.T) {
	hostcheck.RequireRoot(t)
	check := assert.Forwarded("client", "server", "router")
	t.Run("working", func(t *testing.T) {
		n := scenario.New(t, scenarios.Routed())
		r := check(ctx, n)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		for _, w := range []string{"1 10.0.1.2 (router) time exceeded", "2 10.0.2.2 (server) echo reply",
			"the trace's own echo requests at router:eth0 in 2 out 0", "router:eth1 in 0 out 1", "(TTL 2) left router through eth1"} {
			if !strings.Contains(r.Evidence, w) {
				t.Errorf("evidence lacks %q: %s", w, r.Evidence)
			}
		}
	})
	t.Run("ip_forward=0 on the router", func(t *testing.T) {
		n := scenario.New(t, scenarios.Routed())
		setSysctl(t, n.Node("router"), "net.ipv4.ip_forward", "0")
		r := check(ctx, n)
		if r.Err == nil {
			t.Fatalf("passed with forwarding off: %s", r.Evidence)
		}
		if !strings.Contains(r.Err.Error(), "router did not forward: net.ipv4.ip_forward=0") {
			t.Errorf("cause not named: %v", r.Err)
		}
	})
	t.Run("route removed", func(t *testing.T) {
		n := scenario.New(t, scenarios.Routed())
		delDefaultRoute(t, n.Node("client"))
		if r := check(ctx, n); r.Err == nil {
			t.Fatalf("passed without a route: %s", r.Evidence)
		}
	})
	t.Run("link down behind the router", func(t *testing.T) {
		n := scenario.New(t, scenarios.Routed())
		linkDown(t, n.Node("server"), "eth0")
		r := check(ctx, n)
		if r.Err == nil {
			t.Fatalf("passed with the server's link down: %s", r.Evidence)
		}
		if !strings.Contains(r.Err.Error(), "was not reached beyond it") {
			t.Errorf("cause not named: %v", r.Err)
		}
	})
}

func TestNAT(t *testing.T) {
	hostcheck.RequireRoot(t)
	check := assert.Masqueraded("a1", "outside", "gw")
	t.Run("working", func(t *testing.T) {
		n := scenario.New(t, scenarios.NAT())
		if r := check(ctx, n); r.Err != nil {
			t.Fatal(r.Err)
		}
	})
	t.Run("NAT rule missing", func(t *testing.T) {
		n := scenario.New(t, scenarios.NAT())
		removeNAT(t, n.Node("gw"))
		r := check(ctx, n)
		if r.Err == nil {
			t.Fatalf("passed without NAT: %s", r.Evidence)
		}
		// The outside saw the untranslated inside address.
		if !strings.Contains(r.Err.Error(), "outside saw source 10.0.1.2, want 203.0.113.1") {
			t.Errorf("address actually seen not reported: %v", r.Err)
		}
	})
	t.Run("ip_forward=0 on the router", func(t *testing.T) {
		n := scenario.New(t, scenarios.NAT())
		setSysctl(t, n.Node("gw"), "net.ipv4.ip_forward", "0")
		r := check(ctx, n)
		if r.Err == nil || !strings.Contains(r.Err.Error(), "received nothing") {
			t.Fatalf("want nothing received: %v %s", r.Err, r.Evidence)
		}
	})
}

func TestTransport(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair())
	right := n.Node("right")
	// A TCP listener and a UDP echo service in the target, opened inside it.
	var ln net.Listener
	var pc net.PacketConn
	err := right.Do(func() (err error) {
		if ln, err = net.Listen("tcp", "10.0.0.2:7000"); err != nil {
			return err
		}
		pc, err = net.ListenPacket("udp", "10.0.0.2:7001")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	defer pc.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	go func() {
		buf := make([]byte, 2048)
		for {
			k, a, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:k], a)
		}
	}()
	dst := right.IPv4()
	left := n.Node("left")
	if r, err := assert.TCPConnect(ctx, left, dst, assert.Port(7000)); err != nil || r.Verdict != assert.Allowed {
		t.Fatalf("tcp: %v", err)
	}
	if r, err := assert.UDPEcho(ctx, left, dst, assert.Port(7001)); err != nil || r.Verdict != assert.Allowed {
		t.Fatalf("udp: %v", err)
	}
	// Broken: no listener on the port → refused, with the cause.
	r, err := assert.TCPConnect(ctx, left, dst, assert.Port(7999))
	if err == nil || r.Verdict != assert.Refused {
		t.Fatalf("tcp to a closed port: %v %+v", err, r)
	}
	r, err = assert.UDPEcho(ctx, left, dst, assert.Port(7999), assert.Timeout(200*time.Millisecond))
	if err == nil || r.Verdict != assert.Refused {
		t.Fatalf("udp to a closed port: %v %+v", err, r)
	}
	// Broken: link down → timeout / no reply.
	linkDown(t, right, "eth0")
	r, err = assert.TCPConnect(ctx, left, dst, assert.Port(7000), assert.Timeout(200*time.Millisecond))
	if err == nil || r.Verdict != assert.Filtered {
		t.Fatalf("tcp over a down link: %v %+v", err, r)
	}
	r, err = assert.UDPEcho(ctx, left, dst, assert.Port(7001), assert.Timeout(200*time.Millisecond))
	if err == nil || r.Verdict != assert.Filtered {
		t.Fatalf("udp over a down link: %v %+v", err, r)
	}
}

// TestBadOptionsInScenarioChecks: a check that cannot start (bad options)
// fails with the reason instead of panicking on a nil result.
func TestBadOptionsInScenarioChecks(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair())
	for name, check := range map[string]scenario.CheckFunc{
		"reach":    assert.Reach("left", "right", assert.Count(-1)),
		"noreach":  assert.NoReach("left", "right", assert.Timeout(-time.Second)),
		"latency":  assert.LatencyWithin("left", "right", nil, assert.Loss(3)),
		"connects": assert.Connects("left", "right", 70000),
		"arp":      assert.ARPAnswered("left", "right", assert.Interval(-1)),
	} {
		r := check(ctx, n)
		if r.Err == nil {
			t.Errorf("%s: bad options accepted", name)
		}
	}
}
