package scenarios

import (
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// LinkFlap takes the router's link to the server down and up again: the
// server is unreachable while the link is down (the router's neighbour
// entry for it is flushed with the link), reachable again within 3 s of
// the link coming up (Eventually reports how long it took), and the
// router's neighbour entry for the server is resolved again, its state in
// the evidence.
func LinkFlap() *scenario.Spec {
	s := scenario.Define("link-flap", "a link goes down and up: reachability lost, then back within a bound")
	s.Host("client").Route("default", "router")
	s.Router("router")
	s.Host("server").Route("default", "router")
	s.Link("client", "router").Subnet("10.40.1.0/24")
	s.Link("router", "server").Subnet("10.40.2.0/24")
	s.Check("client reaches server", assert.Reach("client", "server"))
	s.Check("router resolved the server", assert.NeighbourEntry("router", "server", assert.MAC("server:eth0")))
	s.Step("server link down", scenario.LinkDown("router:eth1"))
	s.Check("link is down", assert.LinkIs("router:eth1", assert.Expect("down")))
	s.Check("client does not reach server", assert.NoReach("client", "server", assert.Timeout(200*time.Millisecond)))
	s.Check("router's neighbour entry is gone", assert.NeighbourEntry("router", "server", assert.Absent()))
	s.Step("server link up", scenario.LinkUp("router:eth1"))
	s.Check("client reaches server again within 3 s", assert.Eventually(
		assert.Reach("client", "server", assert.Timeout(100*time.Millisecond)), 3*time.Second, 0))
	s.Check("router resolved the server again", assert.NeighbourEntry("router", "server", assert.MAC("server:eth0")))
	s.Step("flap it 3 times", scenario.Flap("router:eth1", 3, 20*time.Millisecond))
	s.Check("reachable after the flaps", assert.Eventually(
		assert.Reach("client", "server", assert.Timeout(100*time.Millisecond)), 3*time.Second, 0))
	return s
}

// KselftestTraceroute6 ports the IPv6 case of the kernel's
// tools/testing/selftests/net/traceroute.sh (run_traceroute6): H1 and R2
// share segment N1 with R1; H1's default route is R1 and R1's default
// route is R2 over N2; H2 sits behind R2 on N3. A trace from H1 to H2 must
// show R2's address on N2, the interface the probe came in on, and not its
// address on N1, the interface its error goes out of.
//
// Ported: the topology, the addresses (2000:101::/64 … 2000:103::/64, host
// parts 1 to 4), the routes, priming the path with a ping, and the
// assertion on hop 2. Differences: N1 is a bridge in a switch namespace of
// its own instead of a bridge inside R1 (the same layer-2 segment; vtest's
// switches are namespaces of their own), the probes are ICMP echo requests
// instead of traceroute6's UDP, and the original's "unreachable default
// metric 8192" routes and keep_addr_on_down are left out (they change
// nothing on this path). Hop 1 is checked too.
func KselftestTraceroute6() *scenario.Spec {
	s := scenario.Define("kselftest-traceroute6",
		"port of selftests/net/traceroute.sh (IPv6): the hop answers from the interface the probe came in on")
	s.Switch("n1")
	s.Host("h1").Route("default", "2000:101::1")
	s.Router("r1").Route("default", "2000:102::2")
	s.Router("r2")
	s.Host("h2").Route("default", "2000:103::2")
	s.Link("r2:eth3", "h2:eth3").Addrs("2000:103::2/64", "2000:103::4/64")
	s.Link("r1:eth2", "r2:eth2").Addrs("2000:102::1/64", "2000:102::2/64")
	s.Link("h1:eth0", "n1").Addrs("2000:101::3/64", "")
	s.Link("r1:eth0", "n1").Addrs("2000:101::1/64", "")
	s.Link("r2:eth1", "n1").Addrs("2000:101::2/64", "")
	s.Check("prime: h1 reaches h2", assert.Reach("h1", "2000:103::4", assert.Count(5), assert.Interval(time.Millisecond)))
	s.Check("hop 1 is r1 on N1", assert.HopIs("h1", "2000:103::4", 1, "2000:101::1"))
	s.Check("hop 2 is r2's address on N2, where the probe came in", assert.HopIs("h1", "2000:103::4", 2, "2000:102::2"))
	return s
}

// PMTUException is in the style of the kernel's
// tools/testing/selftests/net/pmtu.sh (pmtu_ipv4_exception and
// pmtu_ipv6_exception): a router link with a smaller MTU answers a DF
// packet too big for it with "fragmentation needed"/"packet too big"
// carrying its MTU, and the sender's kernel records a PMTU exception for
// the destination, seen through a route lookup. Not ported: pmtu.sh's
// tunnels, the exception's expiry and its cleanup on MTU changes.
func PMTUException() *scenario.Spec {
	s := scenario.Define("pmtu", "a 1280-byte link mid-path: DF probes get fragmentation needed, the sender records a PMTU exception")
	s.IPv6 = true
	s.Host("client").Route("default", "r1")
	s.Router("r1").Route("10.50.3.0/24", "r2").Route("fd00:50:3::/64", "r2")
	s.Router("r2").Route("10.50.1.0/24", "r1").Route("fd00:50:1::/64", "r1")
	s.Host("server").Route("default", "r2")
	s.Link("client", "r1").Subnet("10.50.1.0/24").Subnet("fd00:50:1::/64")
	s.Link("r1", "r2").Subnet("10.50.2.0/24").Subnet("fd00:50:2::/64").MTU(1280)
	s.Link("r2", "server").Subnet("10.50.3.0/24").Subnet("fd00:50:3::/64")
	s.Check("1280-byte DF probe passes", assert.PMTU("client", "server", assert.Size(1280)))
	s.Check("1400-byte DF probe: fragmentation needed, MTU 1280", assert.PMTU("client", "server", assert.Size(1400), assert.PathMTU(1280)))
	s.Check("client has a PMTU exception of 1280", assert.Routes("client", "server", assert.PathMTU(1280)))
	s.Check("IPv6: 1400-byte probe: packet too big, MTU 1280", assert.PMTU("client", "server", assert.IPv6(), assert.Size(1400), assert.PathMTU(1280)))
	s.Check("IPv6: client has a PMTU exception of 1280", assert.Routes("client", "server", assert.IPv6(), assert.PathMTU(1280)))
	return s
}

// testMAC is the MAC of lib.sh's learning and flooding tests.
const testMAC = "de:ad:be:ef:13:37"

// KselftestBridgeLearning ports the learning and flooding tests of the
// kernel's tools/testing/selftests/net/forwarding/bridge_vlan_unaware.sh
// (learning_test and flood_test of forwarding/lib.sh): h1 and h2 on a
// VLAN-unaware bridge br0 with ports swp1 and swp2.
//
// Ported: the topology and addresses (192.0.2.1-2/24, 2001:db8:1::1-2/64),
// multicast snooping off, ping_ipv4 and ping_ipv6, learning_test (no entry
// for de:ad:be:ef:13:37 at first; with flooding off on swp1 unknown
// unicast to it does not reach h1; a frame from it is learned on swp1;
// unicast to it then reaches h1; the entry ages out; with learning off a
// frame from it is not learned; learning and flooding back on) and
// flood_test (unknown unicast to de:ad:be:ef:13:37 / 192.0.2.100 and
// multicast to 01:00:5e:00:00:01 / 239.0.0.1 reach h2 only while
// flooding, respectively multicast flooding, is on on swp2).
//
// Differences: mausezahn is replaced by vtest's crafted frames and tc
// flower drop counters by counting matching frames on the hosts' own
// interfaces; the one-second sleeps by waits for the condition with a
// bound; the ageing time is 1 s instead of 10 s (the original sleeps for
// ageing time + 10 s). Not ported: the VRFs the original puts its host
// interfaces in (here each host is a namespace of its own) and the
// hardware-offload variants.
func KselftestBridgeLearning() *scenario.Spec {
	s := scenario.Define("kselftest-bridge-learning",
		"port of selftests/net/forwarding/bridge_vlan_unaware.sh: FDB learning, ageing, learning off, unknown-unicast and multicast flooding")
	s.Host("sw").Iface("br0", scenario.Bridge{AgeingTime: time.Second, NoMulticastSnooping: true}).
		Port("swp1", scenario.BridgePort{}).
		Port("swp2", scenario.BridgePort{})
	s.Host("h1")
	s.Host("h2")
	s.Link("h1", "sw:swp1").Addrs("192.0.2.1/24", "").Addrs("2001:db8:1::1/64", "")
	s.Link("h2", "sw:swp2").Addrs("192.0.2.2/24", "").Addrs("2001:db8:1::2/64", "")

	toTestMAC := assert.Match{DstMAC: testMAC}
	fromTestMAC := assert.Frame{SrcMAC: testMAC, DstMAC: "h2:eth0", Dst: "192.0.2.2"}
	s.Check("ping_ipv4", assert.Reach("h1", "192.0.2.2"))
	s.Check("ping_ipv6", assert.Reach("h1", "2001:db8:1::2"))

	// learning_test br0 swp1 h1 h2
	s.Check("learning: no FDB entry for the test MAC", assert.FDBEntry("sw", testMAC, assert.Absent()))
	s.Step("learning: flooding off on swp1", scenario.SetPortFlag("sw:swp1", scenario.PortFlood, false))
	s.Check("learning: unknown unicast to the test MAC does not reach h1", assert.Frames("h2:eth0",
		assert.Frame{DstMAC: testMAC, Dst: "192.0.2.1"}, "h1:eth0", toTestMAC, assert.Expect(assert.NoFrames)))
	s.Step("learning: h1 sends from the test MAC", assert.Deliver("h1:eth0", fromTestMAC, "h2:eth0", assert.Match{SrcMAC: testMAC}))
	s.Check("learning: the test MAC is learned on swp1", assert.Eventually(
		assert.FDBEntry("sw", testMAC, assert.Via("swp1")), time.Second, 0))
	s.Check("learning: unicast to the test MAC now reaches h1", assert.Frames("h2:eth0",
		assert.Frame{DstMAC: testMAC, Dst: "192.0.2.1"}, "h1:eth0", toTestMAC))
	s.Check("learning: the entry ages out", assert.Eventually(
		assert.FDBEntry("sw", testMAC, assert.Absent()), 5*time.Second, 100*time.Millisecond))
	s.Step("learning: learning off on swp1", scenario.SetPortFlag("sw:swp1", scenario.PortLearning, false))
	s.Step("learning: h1 sends from the test MAC again", assert.Deliver("h1:eth0", fromTestMAC, "h2:eth0", assert.Match{SrcMAC: testMAC}))
	s.Check("learning: not learned with learning off", assert.FDBEntry("sw", testMAC, assert.Absent()))
	s.Step("learning: learning back on on swp1", scenario.SetPortFlag("sw:swp1", scenario.PortLearning, true))
	s.Step("learning: flooding back on on swp1", scenario.SetPortFlag("sw:swp1", scenario.PortFlood, true))

	// flood_test swp2 h1 h2
	unknown := assert.Frame{DstMAC: testMAC, Dst: "192.0.2.100"}
	group := assert.Frame{DstMAC: "01:00:5e:00:00:01", Dst: "239.0.0.1"}
	s.Step("flooding: unicast flooding off on swp2", scenario.SetPortFlag("sw:swp2", scenario.PortFlood, false))
	s.Check("flooding: unknown unicast is not flooded to h2", assert.Frames("h1:eth0", unknown, "h2:eth0", toTestMAC, assert.Expect(assert.NoFrames)))
	s.Step("flooding: unicast flooding on on swp2", scenario.SetPortFlag("sw:swp2", scenario.PortFlood, true))
	s.Check("flooding: unknown unicast is flooded to h2", assert.Frames("h1:eth0", unknown, "h2:eth0", toTestMAC))
	s.Step("flooding: multicast flooding off on swp2", scenario.SetPortFlag("sw:swp2", scenario.PortMulticastFlood, false))
	s.Check("flooding: unregistered multicast is not flooded to h2", assert.Frames("h1:eth0", group, "h2:eth0",
		assert.Match{DstMAC: "01:00:5e:00:00:01"}, assert.Expect(assert.NoFrames)))
	s.Step("flooding: multicast flooding on on swp2", scenario.SetPortFlag("sw:swp2", scenario.PortMulticastFlood, true))
	s.Check("flooding: unregistered multicast is flooded to h2", assert.Frames("h1:eth0", group, "h2:eth0",
		assert.Match{DstMAC: "01:00:5e:00:00:01"}))
	return s
}

// Throughput limits one direction of a link to 20 Mbit/s with a token
// bucket filter: the TCP rate measured that way is within ±15 % of it and
// the other way, unlimited, is faster; then a step removes the limit and
// the limited way is faster too. (Below about 9 Mbit/s the impairment's
// 50 ms queue is shorter than one 64 KB GSO packet of the sender, TCP
// loses whole windows to it and its rate is no longer within ±15 %.)
func Throughput() *scenario.Spec {
	s := scenario.Define("throughput", "a tbf-limited link: TCP rate within ±15 % of the limit, the unlimited way faster, and after a step removes the limit")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b").Subnet("10.60.0.0/24").ImpairFrom("a", scenario.Impairment{Rate: 20_000_000})
	s.Check("a → b at 20 Mbit/s ±15 %", assert.Rate("a", "b", assert.Mbps(17, 23)))
	s.Check("b → a unlimited: faster than 24 Mbit/s", assert.Rate("b", "a", assert.Mbps(24, 0)))
	s.Step("remove the limit", scenario.ClearImpairment("a:eth0"))
	s.Check("a → b unlimited now: faster than 24 Mbit/s", assert.Rate("a", "b", assert.Mbps(24, 0)))
	return s
}
