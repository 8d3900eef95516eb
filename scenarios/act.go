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
