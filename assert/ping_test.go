package assert_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
	"github.com/vtest-dev/vtest/scenarios"
)

// fork is left with two neighbours on two subnets: right (10.0.0.2) and
// dead (10.0.1.2).
func fork() *scenario.Spec {
	s := scenario.Define("fork", "")
	s.Host("left")
	s.Host("right")
	s.Host("dead")
	s.Link("left", "right").Subnet("10.0.0.0/24")
	s.Link("left", "dead").Subnet("10.0.1.0/24")
	return s
}

// TestPingConcurrent runs pings from one node at the same time, with the
// same sequence numbers: each counts only the replies to its own requests.
func TestPingConcurrent(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, fork())
	left := n.Node("left")
	dropICMP(t, n.Node("dead"))
	type ping struct {
		to   netip.Addr
		r    *assert.PingResult
		err  error
		live bool
	}
	right, dead := n.Node("right").IPv4(), n.Node("dead").IPv4()
	pings := []*ping{{to: right, live: true}, {to: dead}, {to: right, live: true}, {to: dead}}
	var wg sync.WaitGroup
	for _, p := range pings {
		wg.Go(func() {
			p.r, p.err = assert.Ping(ctx, left, p.to, assert.Count(5), assert.Interval(2*time.Millisecond), assert.Timeout(400*time.Millisecond))
		})
	}
	wg.Wait()
	for i, p := range pings {
		switch {
		case p.r == nil:
			t.Errorf("ping %d to %s: no result: %v", i, p.to, p.err)
		case p.live && (p.err != nil || p.r.Received != 5 || len(p.r.RTTs) != 5):
			t.Errorf("ping %d to %s (answers): want 5 of 5: %v %s", i, p.to, p.err, p.r.Evidence())
		case !p.live && (p.err == nil || p.r.Received != 0 || p.r.Sent != 5):
			t.Errorf("ping %d to %s (drops ICMP): want 0 of 5 and a failure: %v %s", i, p.to, p.err, p.r.Evidence())
		}
	}
}

// TestPingTTL checks the TTL and hop limit recorded for each reply: 64
// from a neighbour, 63 through a router, for IPv4 and IPv6.
func TestPingTTL(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenarios.Routed()
	s.IPv6 = true
	n := scenario.New(t, s)
	client := n.Node("client")
	for _, c := range []struct {
		to  netip.Addr
		ttl uint8
	}{
		{n.Node("router").AddrOn(client.IPv4()), 64},
		{n.Node("server").IPv4(), 63},
		{n.Node("router").AddrOn(client.IPv6()), 64},
		{n.Node("server").IPv6(), 63},
	} {
		r, err := assert.Ping(ctx, client, c.to, assert.Count(3), assert.Interval(time.Millisecond))
		if err != nil {
			t.Errorf("%s: %v", c.to, err)
			continue
		}
		if len(r.TTLs) != 3 || len(r.RTTs) != 3 {
			t.Errorf("%s: want 3 TTLs and RTTs: %s", c.to, r.Evidence())
		}
		for _, ttl := range r.TTLs {
			if ttl != c.ttl {
				t.Errorf("%s: TTL %d, want %d: %s", c.to, ttl, c.ttl, r.Evidence())
			}
		}
		mustContain(t, c.to.String(), nil, r, "3 received", "ttl ")
	}
}

// TestPingRouteNamesKernelDevice: the route in a ping's evidence names the
// device and gateway the kernel's own lookup gives, for a neighbour and
// through the router, and "local" addresses go through lo.
func TestPingRouteNamesKernelDevice(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, scenarios.Routed())
	client := n.Node("client")
	for _, to := range []netip.Addr{n.Node("router").AddrOn(client.IPv4()), n.Node("server").IPv4(), client.IPv4()} {
		r, err := assert.Ping(ctx, client, to)
		if err != nil {
			t.Fatalf("%s: %v", to, err)
		}
		routes, err := client.Netlink().RouteGet(to.AsSlice())
		if err != nil || len(routes) == 0 {
			t.Fatalf("%s: kernel route lookup: %v", to, err)
		}
		l, err := client.Netlink().LinkByIndex(routes[0].LinkIndex)
		if err != nil {
			t.Fatalf("%s: kernel link %d: %v", to, routes[0].LinkIndex, err)
		}
		want := "dev " + l.Attrs().Name
		if routes[0].Gw != nil {
			want += " via " + routes[0].Gw.String()
		}
		if r.Route != want && !strings.HasPrefix(r.Route, want+" ") {
			t.Errorf("%s: route %q, want %q from the kernel: %s", to, r.Route, want, r.Evidence())
		}
	}
}

// TestPingIPv6 pings over IPv6 through a router, and fails when the
// server's link is down or the router drops ICMPv6.
func TestPingIPv6(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenarios.Routed()
	s.IPv6 = true
	n := scenario.New(t, s)
	client, server := n.Node("client"), n.Node("server").IPv6()
	if r, err := assert.Ping(ctx, client, server, assert.Count(2), assert.Interval(time.Millisecond)); err != nil || r.Received != 2 {
		t.Fatalf("IPv6 ping on a working network: %v %v", err, r)
	}
	// A link-local address is pinged through the interface its zone names
	// in the client, not in the host.
	eth0, err := n.Node("router").Netlink().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := n.Node("router").Netlink().AddrList(eth0, netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	var linkLocal netip.Addr
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.IsLinkLocalUnicast() {
			linkLocal = ip
		}
	}
	if !linkLocal.IsValid() {
		t.Fatalf("router:eth0 has no link-local address: %v", addrs)
	}
	if r, err := assert.Ping(ctx, client, linkLocal.WithZone("eth0")); err != nil || r.Received != 1 {
		t.Errorf("link-local %s%%eth0: %v %v", linkLocal, err, r)
	}
	_, err = assert.Ping(ctx, client, linkLocal.WithZone("nosuch0"))
	mustContain(t, "zone", err, nil, `zone "nosuch0"`, `no such interface in node "client"`)
	l4 := func(proto byte) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		}
	}
	nftRule(t, n.Node("router"), nftables.ChainHookForward, append(l4(unix.IPPROTO_ICMPV6), &expr.Verdict{Kind: expr.VerdictDrop}))
	r, err := assert.Ping(ctx, client, server, assert.Timeout(200*time.Millisecond))
	if err == nil {
		t.Fatalf("IPv6 ping passed through a router dropping ICMPv6: %s", r.Evidence())
	}
	mustContain(t, "ICMPv6 dropped", err, r, "not reachable", "1 sent, 0 received")
}

// TestPingSize sends payloads of the size asked for: 1000 bytes fit the
// receiver's MTU of 1280, 1400 bytes do not (the sender's MTU is 1500, so
// it does not fragment, and the receiving veth drops the frame; over IPv4
// the kernel says so at once, ENOBUFS, and the probe counts as lost).
func TestPingSize(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, v6 := range []bool{false, true} {
		s := pair()
		s.IPv6 = v6
		n := scenario.New(t, s)
		if err := n.Apply(ctx, scenario.SetMTU("right:eth0", 1280)); err != nil {
			t.Fatal(err)
		}
		left, right := n.Node("left"), n.Node("right").IPv4()
		if v6 {
			right = n.Node("right").IPv6()
		}
		if r, err := assert.Ping(ctx, left, right, assert.Size(1000)); err != nil {
			t.Errorf("1000 bytes to %s: %v", right, err)
		} else if r.Received != 1 {
			t.Errorf("1000 bytes to %s: %s", right, r.Evidence())
		}
		r, err := assert.Ping(ctx, left, right, assert.Size(1400), assert.Timeout(200*time.Millisecond))
		if err == nil {
			t.Errorf("1400 bytes to %s passed a 1280-byte MTU: %s", right, r.Evidence())
		}
		// Tiny payloads still tell replies apart.
		if _, err := assert.Ping(ctx, left, right, assert.Size(1), assert.Count(2), assert.Interval(time.Millisecond)); err != nil {
			t.Errorf("1 byte to %s: %v", right, err)
		}
	}
}

// TestPingLoss drops exactly every fourth echo request at the target: of 8
// probes 6 come back, which passes with Loss(0.25) and fails with
// Loss(0.2).
func TestPingLoss(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair())
	nftRule(t, n.Node("right"), nftables.ChainHookInput, []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMP}},
		&expr.Numgen{Register: 1, Modulus: 4, Type: unix.NFT_NG_INCREMENTAL},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 0, 0, 0}},
		&expr.Verdict{Kind: expr.VerdictDrop},
	})
	left, right := n.Node("left"), n.Node("right").IPv4()
	opts := []assert.Option{assert.Count(8), assert.Interval(time.Millisecond), assert.Timeout(300 * time.Millisecond)}
	r, err := assert.Ping(ctx, left, right, append(opts, assert.Loss(0.25))...)
	if err != nil || r.Sent != 8 || r.Received != 6 || len(r.RTTs) != 6 || len(r.TTLs) != 6 {
		t.Fatalf("Loss(0.25), every 4th dropped: want 6 of 8 and a pass: %v %v", err, r)
	}
	mustContain(t, "loss", nil, r, "8 sent, 6 received, 25% loss")
	r, err = assert.Ping(ctx, left, right, append(opts, assert.Loss(0.2))...)
	if err == nil {
		t.Fatalf("Loss(0.2) passed with 2 of 8 lost: %s", r.Evidence())
	}
	mustContain(t, "loss", err, r, "not reachable", "8 sent, 6 received")
}

// TestPingOptions checks Interface, Source, Warmup, Timeout and ctx.
func TestPingOptions(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, scenarios.Routed())
	router, server := n.Node("router"), n.Node("server").IPv4()
	t.Run("interface", func(t *testing.T) {
		if _, err := assert.Ping(ctx, router, server, assert.Via("eth1")); err != nil {
			t.Errorf("via the server's side: %v", err)
		}
		r, err := assert.Ping(ctx, router, server, assert.Via("eth0"), assert.Timeout(200*time.Millisecond))
		if err == nil {
			t.Errorf("bound to the client's side, the ping reached the server: %s", r.Evidence())
		}
		_, err = assert.Ping(ctx, router, server, assert.Via("nosuch0"))
		mustContain(t, "no such interface", err, nil, `interface "nosuch0"`, "no such device")
	})
	t.Run("source", func(t *testing.T) {
		client := n.Node("client")
		lo, err := client.Netlink().LinkByName("lo")
		if err != nil {
			t.Fatal(err)
		}
		if err := client.Netlink().AddrAdd(lo, &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("192.0.2.7"), Mask: net.CIDRMask(32, 32)}}); err != nil {
			t.Fatal(err)
		}
		// The server has a route back to 192.0.2.7 (its default), the
		// router has none: from there the ping fails.
		r, err := assert.Ping(ctx, client, server, assert.Source(netip.MustParseAddr("192.0.2.7")), assert.Timeout(200*time.Millisecond))
		if err == nil {
			t.Errorf("a source the router cannot route back to got replies: %s", r.Evidence())
		}
		if _, err := assert.Ping(ctx, client, server, assert.Source(client.IPv4())); err != nil {
			t.Errorf("from the client's own address: %v", err)
		}
		_, err = assert.Ping(ctx, client, server, assert.Source(netip.MustParseAddr("10.9.9.9")))
		mustContain(t, "foreign source", err, nil, "bind to 10.9.9.9")
	})
	t.Run("warmup", func(t *testing.T) {
		r, err := assert.Ping(ctx, n.Node("client"), server, assert.Warmup(3), assert.Count(2), assert.Interval(time.Millisecond))
		if err != nil || r.Sent != 2 || r.Received != 2 {
			t.Errorf("warm-up probes counted or lost: %v %v", err, r)
		}
	})
	t.Run("interval", func(t *testing.T) {
		// Three probes 50 ms apart cannot all be answered in less than
		// 100 ms.
		r, err := assert.Ping(ctx, n.Node("client"), server, assert.Count(3), assert.Interval(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if r.Elapsed < 100*time.Millisecond {
			t.Errorf("3 probes 50 ms apart took %v", r.Elapsed)
		}
	})
	t.Run("IPv4-mapped target", func(t *testing.T) {
		if _, err := assert.Ping(ctx, n.Node("client"), netip.AddrFrom16(server.As16())); err != nil {
			t.Error(err)
		}
	})
	t.Run("count zero", func(t *testing.T) {
		_, err := assert.Ping(ctx, n.Node("client"), server, assert.Count(0))
		mustContain(t, "count 0", err, nil, "at least one probe")
	})
	t.Run("returns with the last reply and ends at ctx", func(t *testing.T) {
		// A 10 s timeout that a ping on a working network never waits for.
		start := time.Now()
		if _, err := assert.Ping(ctx, n.Node("client"), server, assert.Count(3), assert.Interval(time.Millisecond), assert.Timeout(10*time.Second)); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("ping waited %v after its replies were in", d)
		}
		dropICMP(t, n.Node("server"))
		c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		start = time.Now()
		r, err := assert.Ping(c, n.Node("client"), server, assert.Timeout(10*time.Second))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("want the context's error, got %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("ping ended %v after start, its context ended after 50ms: %s", d, r.Evidence())
		}
	})
}

// TestPingCountsOnlyItsReplies answers pings from a program instead of the
// kernel, and answers wrongly: twice, late, with another payload, from
// another address. Only a reply to a counted probe, from the target, with
// the payload sent, counts, and only once.
func TestPingCountsOnlyItsReplies(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair())
	left, right := n.Node("left"), n.Node("right")
	// A second address on right, to answer from.
	eth0, err := right.Netlink().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if err := right.Netlink().AddrAdd(eth0, &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("10.0.0.9"), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var answer func(req *icmp.Echo) (reply *icmp.Echo, from netip.Addr, delay time.Duration, copies int)
	script := func(f func(req *icmp.Echo) (*icmp.Echo, netip.Addr, time.Duration, int)) {
		mu.Lock()
		defer mu.Unlock()
		answer = f
	}
	scriptedResponder(t, right, func(req *icmp.Echo) (*icmp.Echo, netip.Addr, time.Duration, int) {
		mu.Lock()
		defer mu.Unlock()
		return answer(req)
	})
	dst := right.IPv4()
	opts := []assert.Option{assert.Count(3), assert.Interval(time.Millisecond), assert.Timeout(300 * time.Millisecond)}

	script(func(req *icmp.Echo) (*icmp.Echo, netip.Addr, time.Duration, int) { return req, dst, 0, 1 })
	if r, err := assert.Ping(ctx, left, dst, opts...); err != nil || r.Received != 3 {
		t.Fatalf("the responder does not answer correctly: %v %v", err, r)
	}

	script(func(req *icmp.Echo) (*icmp.Echo, netip.Addr, time.Duration, int) { return req, dst, 0, 3 })
	r, err := assert.Ping(ctx, left, dst, opts...)
	if err != nil || r.Received != 3 || len(r.RTTs) != 3 {
		t.Errorf("every reply thrice: want 3 of 3 counted once: %v %v", err, r)
	}

	wrong := func(f func(req icmp.Echo) (icmp.Echo, netip.Addr)) func(req *icmp.Echo) (*icmp.Echo, netip.Addr, time.Duration, int) {
		return func(req *icmp.Echo) (*icmp.Echo, netip.Addr, time.Duration, int) {
			e, from := f(*req)
			return &e, from, 0, 1
		}
	}
	for _, c := range []struct {
		name  string
		reply func(req *icmp.Echo) (*icmp.Echo, netip.Addr, time.Duration, int)
	}{
		{"another payload", wrong(func(e icmp.Echo) (icmp.Echo, netip.Addr) {
			e.Data = append([]byte(nil), e.Data...)
			e.Data[len(e.Data)-1] ^= 0xff
			return e, dst
		})},
		{"a longer payload", wrong(func(e icmp.Echo) (icmp.Echo, netip.Addr) {
			e.Data = append(append([]byte(nil), e.Data...), 0)
			return e, dst
		})},
		{"another address", wrong(func(e icmp.Echo) (icmp.Echo, netip.Addr) { return e, netip.MustParseAddr("10.0.0.9") })},
		{"another sequence number", wrong(func(e icmp.Echo) (icmp.Echo, netip.Addr) { e.Seq += 100; return e, dst })},
	} {
		script(c.reply)
		r, err := assert.Ping(ctx, left, dst, opts...)
		if err == nil || r.Received != 0 {
			t.Errorf("replies with %s were counted: %v", c.name, r.Evidence())
		}
	}

	// Every reply 200 ms late, the timeout 300 ms: the warm-up probe's
	// reply comes after the counted probe left (at 150 ms, half the
	// timeout), and must not count for it; the counted probe's reply comes
	// too late.
	script(func(req *icmp.Echo) (*icmp.Echo, netip.Addr, time.Duration, int) {
		return req, dst, 200 * time.Millisecond, 1
	})
	r, err = assert.Ping(ctx, left, dst, assert.Warmup(1), assert.Timeout(300*time.Millisecond))
	if err == nil || r.Sent != 1 || r.Received != 0 {
		t.Errorf("a late warm-up reply was counted: %v", r.Evidence())
	}
}

// scriptedResponder stops the kernel of nd from answering IPv4 pings and
// answers them itself as answer says: which echo, from which of nd's
// addresses, how late and how many times.
func scriptedResponder(t *testing.T, nd *scenario.Node, answer func(req *icmp.Echo) (reply *icmp.Echo, from netip.Addr, delay time.Duration, copies int)) {
	t.Helper()
	setSysctl(t, nd, "net.ipv4.icmp_echo_ignore_all", "1")
	var c *icmp.PacketConn
	if err := nd.Do(func() (err error) { c, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0"); return err }); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { c.Close(); <-done })
	pc := c.IPv4PacketConn()
	go func() {
		defer close(done)
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
			echo, from, delay, copies := answer(m.Body.(*icmp.Echo))
			b, _ := (&icmp.Message{Type: ipv4.ICMPTypeEchoReply, Body: echo}).Marshal(nil)
			cm := &ipv4.ControlMessage{Src: from.AsSlice()}
			time.AfterFunc(delay, func() {
				for range copies {
					pc.WriteTo(b, cm, peer)
				}
			})
		}
	}()
}

// nftRule adds an inet filter chain on hook with one rule to a node.
func nftRule(t testing.TB, nd *scenario.Node, hook *nftables.ChainHook, exprs []expr.Any) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(nd.NamespaceFd()), nftables.AsLasting())
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseLasting()
	tb := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "rule"})
	ch := c.AddChain(&nftables.Chain{Name: "r", Table: tb, Type: nftables.ChainTypeFilter, Hooknum: hook, Priority: nftables.ChainPriorityFilter})
	c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: exprs})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}
