package scenarios

import (
	"net/netip"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// ECMP joins two routers by two equal links. r1 routes the server's subnet
// over both (an ECMP route) and hashes flows by their ports
// (fib_multipath_hash_policy=1), so many flows with different source ports
// use both links. r2 routes back over one named link: r1 is reachable over
// two, which Validate refuses without Dev.
func ECMP() *scenario.Spec {
	s := scenario.Define("ecmp", "two equal paths between two routers: flows with different ports use both")
	s.Host("client").Route("default", "r1")
	s.Router("r1").Sysctl("net.ipv4.fib_multipath_hash_policy", "1").
		AddRoute(scenario.RouteSpec{Dst: "10.0.9.0/24", Nexthops: []scenario.Nexthop{{Via: "r2", Dev: "a"}, {Via: "r2", Dev: "b"}}})
	s.Router("r2").AddRoute(scenario.RouteSpec{Dst: "10.0.1.0/24", Via: "r1", Dev: "a"})
	s.Host("server").Route("default", "r2")
	s.Link("client", "r1").Subnet("10.0.1.0/24")
	s.Link("r1:a", "r2:a").Subnet("10.0.2.0/24")
	s.Link("r1:b", "r2:b").Subnet("10.0.3.0/24")
	s.Link("r2", "server").Subnet("10.0.9.0/24")
	s.Check("client reaches server", assert.Reach("client", "server"))
	s.Check("flows use both paths", assert.Spread("client", "server", "r1", []string{"a", "b"}))
	return s
}

// PolicyRouting gives a host two exits, each a masquerading router onto the
// same network. Its main table leaves through r1; a rule sends what comes
// from its address on r2's link to table 100, which leaves through r2. The
// server sees which exit each source address took.
func PolicyRouting() *scenario.Spec {
	s := scenario.Define("policy-routing", "source-based routing: each of a host's addresses leaves through its own exit")
	s.Host("host").
		Route("default", "r1").
		AddRoute(scenario.RouteSpec{Dst: "default", Via: "r2", Table: 100}).
		Rule(scenario.RuleSpec{Priority: 100, From: "10.2.0.0/24", Table: 100})
	s.Router("r1").Masquerade("wan")
	s.Router("r2").Masquerade("wan")
	s.Switch("net").Subnet("192.0.2.0/24")
	s.Host("server")
	s.Link("host:isp1", "r1:lan").Addrs("10.1.0.2/24", "10.1.0.1/24")
	s.Link("host:isp2", "r2:lan").Addrs("10.2.0.2/24", "10.2.0.1/24")
	s.Link("r1:wan", "net").Addrs("192.0.2.1/24", "")
	s.Link("r2:wan", "net").Addrs("192.0.2.2/24", "")
	s.Link("server", "net").Addrs("192.0.2.10/24", "")
	s.Check("from 10.1.0.2: leaves through r1", assert.SeenAs("host", "192.0.2.10", "192.0.2.1", assert.Source(netip.MustParseAddr("10.1.0.2"))))
	s.Check("from 10.2.0.2: leaves through r2", assert.SeenAs("host", "192.0.2.10", "192.0.2.2", assert.Source(netip.MustParseAddr("10.2.0.2"))))
	return s
}

// Firewall puts a filtering router between a client and a server. Port
// 8080 is allowed, 8081 refused with a TCP reset, 8082-8099 dropped
// silently; replies pass as established connections. The client tells the
// three apart (connected, refused, timeout) and each rule's counter shows it
// decided.
func Firewall() *scenario.Spec {
	s := scenario.Define("firewall", "a router's firewall: one port allowed, one refused, one silently dropped, told apart")
	s.Host("client").Route("default", "fw")
	s.Router("fw").
		Firewall(scenario.FirewallRule{Name: "established", Hook: scenario.HookForward,
			Match: scenario.Match{State: []string{"established", "related"}}, Action: scenario.Accept}).
		Firewall(scenario.FirewallRule{Name: "allow-8080", Hook: scenario.HookForward,
			Match: scenario.Match{Proto: "tcp", DPort: "8080", In: "inside", State: []string{"new"}}, Action: scenario.Accept}).
		Firewall(scenario.FirewallRule{Name: "refuse-8081", Hook: scenario.HookForward,
			Match: scenario.Match{Proto: "tcp", DPort: "8081"}, Action: scenario.Reject, RejectWith: scenario.RejectTCPReset}).
		Firewall(scenario.FirewallRule{Name: "drop-8082-8099", Hook: scenario.HookForward,
			Match: scenario.Match{Proto: "tcp", DPort: "8082-8099", Dst: "10.0.2.0/24"}, Action: scenario.Drop})
	s.Host("server").Route("default", "fw")
	s.Link("client", "fw:inside").Subnet("10.0.1.0/24")
	s.Link("fw:dmz", "server").Subnet("10.0.2.0/24")
	s.Check("8080 is allowed", assert.Counted("fw", "allow-8080", assert.ConnectOutcome("client", "server", 8080, assert.Allowed)))
	s.Check("8081 is refused", assert.Counted("fw", "refuse-8081", assert.ConnectOutcome("client", "server", 8081, assert.Refused)))
	s.Check("8082 is dropped silently", assert.Counted("fw", "drop-8082-8099",
		assert.ConnectOutcome("client", "server", 8082, assert.Filtered, assert.Timeout(300*time.Millisecond))))
	s.Check("ping is not filtered", assert.Reach("client", "server"))
	return s
}

// PortForward forwards port 8080 of a router's outside address to port 80
// of a server inside, for IPv4 and IPv6 (DNAT). The server sees the
// client's own address; the client has no route to the inside.
func PortForward() *scenario.Spec {
	s := scenario.Define("port-forward", "DNAT of the router's port 8080 to an inside server's port 80, IPv4 and IPv6")
	s.Host("client")
	s.Router("gw").
		NAT(scenario.NATRule{Name: "web", Action: scenario.DNAT, Match: scenario.Match{In: "wan", Proto: "tcp", DPort: "8080"}, To: "10.0.1.2:80"}).
		NAT(scenario.NATRule{Name: "web6", Action: scenario.DNAT, Match: scenario.Match{In: "wan", Proto: "tcp", DPort: "8080"}, To: "[fd00:1::2]:80"})
	s.Host("server").Route("default", "gw")
	s.Link("client", "gw:wan").Addrs("203.0.113.2/24", "203.0.113.1/24").Addrs("2001:db8:1::2/64", "2001:db8:1::1/64")
	s.Link("gw:lan", "server").Addrs("10.0.1.1/24", "10.0.1.2/24").Addrs("fd00:1::1/64", "fd00:1::2/64")
	s.Check("IPv4: 8080 reaches the server, which sees the client", assert.Counted("gw", "web", assert.PortForwarded("client", "203.0.113.1", 8080, "server", 80)))
	s.Check("IPv6: 8080 reaches the server, which sees the client", assert.Counted("gw", "web6", assert.PortForwarded("client", "2001:db8:1::1", 8080, "server", 80)))
	s.Check("the client has no route inside", assert.NoReach("client", "10.0.1.2"))
	return s
}

// ImpairedLink limits the traffic leaving one end of a link to 8 Mbit/s
// with a token bucket filter; the other direction is not limited.
func ImpairedLink() *scenario.Spec {
	s := scenario.Define("impaired-link", "a link limited to 8 Mbit/s one way (tbf): TCP goodput obeys it, the other way does not")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b").Subnet("10.0.0.0/24").ImpairFrom("a", scenario.Impairment{Rate: 8_000_000})
	// A second: tbf's burst is a small part of it, and so is one
	// retransmission timeout (200 ms at least, ~270 ms seen) of a TCP
	// whose window overran tbf's 50 ms queue — in half a second, one such
	// stall took the goodput to 3.7 Mbit/s once in 30 runs.
	s.Check("a → b at most 8 Mbit/s", assert.Rate("a", "b", assert.Mbps(4, 8.4), assert.For(time.Second)))
	s.Check("b → a not limited", assert.Rate("b", "a", assert.Mbps(24, 0), assert.For(500*time.Millisecond))) // 3× the limit: holds under QEMU TCG too
	return s
}

// LossyLink loses 20% of the packets leaving one end of a link and delays
// them 10 ms ± 5 ms (netem). It needs sch_netem and is skipped, with the
// probe's reason, on kernels without it.
func LossyLink() *scenario.Spec {
	s := scenario.Define("lossy-link", "20% loss and 10±5 ms delay one way (netem): pings see both")
	// ARP requests are impaired too: retry every 100 ms, not every second,
	// so that resolution does not stall the checks when one is lost.
	s.Host("a").Sysctl("net.ipv4.neigh.eth0.retrans_time_ms", "100") // per interface: neigh/default exists only in the initial namespace on some kernels
	s.Host("b")
	s.Link("a", "b").Subnet("10.0.0.0/24").ImpairFrom("a", scenario.Impairment{Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 20})
	// Lost probes are awaited until Timeout: keep it short.
	s.Check("some but not most probes are lost", assert.LossWithin("a", "b", 0.05, 0.45, assert.Timeout(500*time.Millisecond)))
	s.Check("round trips vary between 5 and 15 ms", assert.LatencyWithin("a", "b",
		// Delays are uniform in 5..15 ms: the minimum is near 5 ms, the 90th
		// percentile near 14 ms; the bounds leave room for QEMU TCG.
		[]assert.Bound{assert.AtLeast(assert.Min, 4*time.Millisecond), assert.Below(assert.Min, 9*time.Millisecond), assert.AtLeast(assert.P90, 10*time.Millisecond)},
		assert.Count(60), assert.Loss(0.6), assert.Timeout(time.Second)))
	return s
}
