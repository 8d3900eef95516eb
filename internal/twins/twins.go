// Package twins holds, for the checks of package assert, pairs of networks
// that differ in one thing: on the healthy one the check must pass, on its
// broken twin — broken the way the check exists to detect — it must fail.
// A check that passes on both cannot fail; one that fails on both cannot
// pass. The pairs run on the host (go test ./internal/twins) and in the
// VMs of make kernel-check, so each verdict is shown on every kernel. The
// matrix of every check, its break and its tests is docs/check-matrix.md.
// The impairment twins (impair.go) do the same for link options whose
// effect a check can see: netem's Limit, Gap, Duplicate and correlation,
// RED's ECN marking.
package twins

import (
	"context"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// CheckName is the name of the check under test in both scenarios of a
// twin; any other item (a step making traffic) must pass in both.
const CheckName = "the check"

// Twin is a check with a healthy network, where it must pass, and a
// broken one, where it must fail.
type Twin struct {
	// Check names the assert function, e.g. "assert.Masqueraded".
	Check string
	// Break says how the broken network differs from the healthy one.
	Break string
	// Healthy and Broken are the two networks, named twin-<name> and
	// twin-<name>-broken.
	Healthy, Broken *scenario.Spec
}

// Twins returns fresh definitions of every twin.
func Twins() []Twin {
	return []Twin{
		reach(), reach6(), noReach(), noReach6(), walked(), eventually(), consistently(),
		arpAnswered(), arpUnanswered(), neighbourEntry(),
		connectOutcome(), firewallVerdict(),
		masqueraded(), portForwarded(), counted(), conntrackEntry(),
		routes(), sysctlIs(), pmtu(), hopIs(), latencyWithin(),
		netemLimit(), netemGap(), netemDuplicate(), netemCorrelation(), redECN(),
	}
}

// twin defines both networks with build (broken false, then true) and
// gives each the check.
func twin(name, check, brk string, build func(s *scenario.Spec, broken bool), fn scenario.CheckFunc) Twin {
	t := Twin{Check: check, Break: brk}
	for _, broken := range []bool{false, true} {
		n, desc := "twin-"+name, check+" on a healthy network"
		if broken {
			n, desc = n+"-broken", check+" on a network with "+brk
		}
		s := scenario.Define(n, desc)
		build(s, broken)
		s.Check(CheckName, fn)
		if broken {
			t.Broken = s
		} else {
			t.Healthy = s
		}
	}
	return t
}

// routed is client — r — server on two subnets.
func routed(s *scenario.Spec) *scenario.NodeSpec {
	s.Host("client").Route("default", "r")
	r := s.Router("r")
	s.Host("server").Route("default", "r")
	s.Link("client", "r").Subnet("10.120.1.0/24")
	s.Link("r", "server").Subnet("10.120.2.0/24")
	return r
}

// forwardingOff turns routing off on a router.
func forwardingOff(r *scenario.NodeSpec) {
	r.Sysctl("net.ipv4.ip_forward", "0")
}

// pair is two hosts on one link; it returns right.
func pair(s *scenario.Spec) *scenario.NodeSpec {
	s.Host("left")
	right := s.Host("right")
	s.Link("left", "right").Subnet("10.121.0.0/24")
	return right
}

// icmpDrop drops ICMP on one of a node's hooks.
func icmpDrop(hook scenario.Hook) scenario.FirewallRule {
	return scenario.FirewallRule{Name: "drop-icmp", Hook: hook, Match: scenario.Match{Proto: "icmp"}, Action: scenario.Drop}
}

func reach() Twin {
	return twin("reach", "assert.Reach", "forwarding off on the router",
		func(s *scenario.Spec, broken bool) {
			if r := routed(s); broken {
				forwardingOff(r)
			}
		}, assert.Reach("client", "server"))
}

func reach6() Twin {
	return twin("reach6", "assert.Reach (IPv6)", "IPv6 forwarding off on the router",
		func(s *scenario.Spec, broken bool) {
			s.IPv6 = true
			if r := routed(s); broken {
				r.Sysctl("net.ipv6.conf.all.forwarding", "0")
			}
		}, assert.Reach("client", "server", assert.IPv6()))
}

// vmWindow is how long the twins that wait for an answer (an echo reply
// that must not come, a router's time exceeded) wait for it. The default
// 500 ms is too short for a first packet under QEMU TCG with two scenarios
// at once: the 6.1 VM saw no echo reply in time on the leaking IPv6 twin
// (neighbour discovery on both hops first), and no time exceeded from the
// healthy router, so a check read a slow machine as a verdict.
const vmWindow = 2 * time.Second

func noReach6() Twin {
	return twin("noreach6", "assert.NoReach (IPv6)", "no ICMPv6 rule on the router (the isolation leaks)",
		func(s *scenario.Spec, broken bool) {
			s.IPv6 = true
			if r := routed(s); !broken {
				r.Firewall(scenario.FirewallRule{Name: "drop-icmpv6", Hook: scenario.HookForward, Match: scenario.Match{Proto: "icmpv6"}, Action: scenario.Drop})
			}
		}, assert.NoReach("client", "server", assert.IPv6(), assert.Timeout(vmWindow)))
}

func noReach() Twin {
	return twin("noreach", "assert.NoReach", "no firewall rule on the router (the isolation leaks)",
		func(s *scenario.Spec, broken bool) {
			if r := routed(s); !broken {
				r.Firewall(icmpDrop(scenario.HookForward))
			}
		}, assert.NoReach("client", "server", assert.Timeout(vmWindow)))
}

func walked() Twin {
	return twin("walked", "assert.Walked", "forwarding off on the router",
		func(s *scenario.Spec, broken bool) {
			if r := routed(s); broken {
				forwardingOff(r)
			}
		}, assert.Walked("client", "server"))
}

func eventually() Twin {
	return twin("eventually", "assert.Eventually", "forwarding off on the router for good",
		func(s *scenario.Spec, broken bool) {
			if r := routed(s); broken {
				forwardingOff(r)
			}
		}, assert.Eventually(assert.Reach("client", "server", assert.Timeout(100*time.Millisecond)), time.Second, 50*time.Millisecond))
}

func consistently() Twin {
	return twin("consistently", "assert.Consistently", "forwarding off on the router",
		func(s *scenario.Spec, broken bool) {
			if r := routed(s); broken {
				forwardingOff(r)
			}
		}, assert.Consistently(assert.Reach("client", "server", assert.Timeout(500*time.Millisecond)), 300*time.Millisecond, 50*time.Millisecond))
}

func arpAnswered() Twin {
	return twin("arp-answered", "assert.ARPAnswered", "arp_ignore=8 on the target (it answers no ARP request)",
		func(s *scenario.Spec, broken bool) {
			if right := pair(s); broken {
				right.Sysctl("net.ipv4.conf.all.arp_ignore", "8")
			}
		}, assert.ARPAnswered("left", "right"))
}

func arpUnanswered() Twin {
	return twin("arp-unanswered", "assert.ARPUnanswered", "arp_ignore left at 0 on the target (it answers)",
		func(s *scenario.Spec, broken bool) {
			if right := pair(s); !broken {
				right.Sysctl("net.ipv4.conf.all.arp_ignore", "8")
			}
		}, assert.ARPUnanswered("left", "right"))
}

func neighbourEntry() Twin {
	return twin("neighbour", "assert.NeighbourEntry", "arp_ignore=8 on the target (left's entry never resolves)",
		func(s *scenario.Spec, broken bool) {
			if right := pair(s); broken {
				right.Sysctl("net.ipv4.conf.all.arp_ignore", "8")
			}
			// Traffic first, in both: the check reads the table. Whether
			// the ping is answered is the check's to judge, not the step's.
			s.StepFunc("left pings right", func(ctx context.Context, n *scenario.Network) error {
				_, _ = assert.Ping(ctx, n.Node("left"), n.Node("right").IPv4(), assert.Timeout(300*time.Millisecond))
				return nil
			})
		}, assert.NeighbourEntry("left", "right", assert.MAC("right:eth0"), assert.Expect("reachable")))
}

// tcpRule is a forward rule of r for TCP to port.
func tcpRule(port string, action scenario.RuleAction, with scenario.RejectKind) scenario.FirewallRule {
	return scenario.FirewallRule{Name: "tcp-" + port, Hook: scenario.HookForward, Match: scenario.Match{Proto: "tcp", DPort: port},
		Action: action, RejectWith: with}
}

func connectOutcome() Twin {
	return twin("connect-outcome", "assert.ConnectOutcome", "a drop rule where a reject rule should be (the client times out)",
		func(s *scenario.Spec, broken bool) {
			r := routed(s)
			if broken {
				r.Firewall(tcpRule("8081", scenario.Drop, ""))
			} else {
				r.Firewall(tcpRule("8081", scenario.Reject, scenario.RejectTCPReset))
			}
		}, assert.ConnectOutcome("client", "server", 8081, assert.Refused, assert.Timeout(500*time.Millisecond)))
}

func firewallVerdict() Twin {
	return twin("firewall", "assert.Firewall", "no drop rule for the port (it is open)",
		func(s *scenario.Spec, broken bool) {
			if r := routed(s); !broken {
				r.Firewall(tcpRule("8082", scenario.Drop, ""))
			}
		}, assert.Firewall("client", "server", 8082, assert.Listen(), assert.Expect(assert.Filtered), assert.Timeout(500*time.Millisecond)))
}

// natNet is a1 — gw — outside; the outside routes the inside's subnet back
// to gw, so without NAT the datagram still arrives, from a1's own address.
func natNet(s *scenario.Spec) *scenario.NodeSpec {
	s.Host("a1").Route("default", "gw")
	gw := s.Router("gw")
	s.Host("outside").Route("10.122.1.0/24", "gw")
	s.Link("a1", "gw:lan").Subnet("10.122.1.0/24")
	s.Link("gw:wan", "outside").Subnet("203.0.113.0/24")
	return gw
}

func masqueraded() Twin {
	return twin("masqueraded", "assert.Masqueraded", "no masquerade on the router (the outside sees the inside address)",
		func(s *scenario.Spec, broken bool) {
			if gw := natNet(s); !broken {
				gw.Masquerade("wan")
			}
		}, assert.Masqueraded("a1", "outside", "gw"))
}

// portForwardNet is client — gw — server with gw's NAT rules given.
func portForwardNet(s *scenario.Spec, rules ...scenario.NATRule) {
	s.Host("client")
	gw := s.Router("gw")
	for _, r := range rules {
		gw.NAT(r)
	}
	s.Host("server").Route("default", "gw")
	s.Link("client", "gw:wan").Addrs("203.0.113.2/24", "203.0.113.1/24")
	s.Link("gw:lan", "server").Addrs("10.123.1.1/24", "10.123.1.2/24")
}

func dnat(name, to string) scenario.NATRule {
	return scenario.NATRule{Name: name, Action: scenario.DNAT, Match: scenario.Match{In: "wan", Proto: "tcp", DPort: "8080"}, To: to}
}

func portForwarded() Twin {
	return twin("port-forwarded", "assert.PortForwarded", "the DNAT rule forwards to the wrong port",
		func(s *scenario.Spec, broken bool) {
			to := "10.123.1.2:80"
			if broken {
				to = "10.123.1.2:81"
			}
			portForwardNet(s, dnat("web", to))
		}, assert.PortForwarded("client", "203.0.113.1", 8080, "server", 80))
}

func counted() Twin {
	return twin("counted", "assert.Counted", "an earlier rule doing the same forward (the named rule never acts)",
		func(s *scenario.Spec, broken bool) {
			if broken {
				portForwardNet(s, dnat("catch-all", "10.123.1.2:80"), dnat("web", "10.123.1.2:80"))
			} else {
				portForwardNet(s, dnat("web", "10.123.1.2:80"))
			}
		}, assert.Counted("gw", "web", assert.PortForwarded("client", "203.0.113.1", 8080, "server", 80)))
}

func conntrackEntry() Twin {
	t := twin("conntrack", "assert.ConntrackEntry", "no NAT on the router (nothing tracks the flow)",
		func(s *scenario.Spec, broken bool) {
			if gw := natNet(s); !broken {
				gw.Masquerade("wan")
			}
			// Traffic first, in both: the check reads the table.
			s.StepFunc("a1 pings outside", func(ctx context.Context, n *scenario.Network) error {
				_, err := assert.Ping(ctx, n.Node("a1"), n.Node("outside").IPv4())
				return err
			})
		}, assert.ConntrackEntry("gw", "outside"))
	return t
}

func routes() Twin {
	return twin("routes", "assert.Routes", "no default route on the client",
		func(s *scenario.Spec, broken bool) {
			if broken {
				s.Host("client")
			} else {
				s.Host("client").Route("default", "r")
			}
			s.Router("r")
			s.Host("server").Route("default", "r")
			s.Link("client", "r").Subnet("10.120.1.0/24")
			s.Link("r", "server").Subnet("10.120.2.0/24")
		}, assert.Routes("client", "server", assert.Gateway("10.120.1.2")))
}

func sysctlIs() Twin {
	return twin("sysctl", "assert.SysctlIs", "forwarding off on the router",
		func(s *scenario.Spec, broken bool) {
			if r := routed(s); broken {
				forwardingOff(r)
			}
		}, assert.SysctlIs("r", "net.ipv4.ip_forward", "1"))
}

func pmtu() Twin {
	return twin("pmtu", "assert.PMTU", "a router that sends no ICMP (a path MTU black hole)",
		func(s *scenario.Spec, broken bool) {
			s.Host("client").Route("default", "r")
			r := s.Router("r")
			s.Host("server").Route("default", "r")
			s.Link("client", "r").Subnet("10.120.1.0/24")
			s.Link("r", "server").Subnet("10.120.2.0/24").MTU(1280)
			if broken {
				r.Firewall(icmpDrop(scenario.HookOutput))
			}
		}, assert.PMTU("client", "server", assert.Size(1400), assert.PathMTU(1280), assert.Timeout(500*time.Millisecond)))
}

func hopIs() Twin {
	return twin("hop", "assert.HopIs", "a router that sends no ICMP (hop 1 never answers)",
		func(s *scenario.Spec, broken bool) {
			if r := routed(s); broken {
				r.Firewall(icmpDrop(scenario.HookOutput))
			}
		}, assert.HopIs("client", "server", 1, "r", assert.Timeout(vmWindow)))
}

func latencyWithin() Twin {
	return twin("latency", "assert.LatencyWithin", "a link delaying each packet 200 ms (netem)",
		func(s *scenario.Spec, broken bool) {
			pair(s)
			if broken {
				s.Links()[0].Delay(200 * time.Millisecond)
			}
		}, assert.LatencyWithin("left", "right", []assert.Bound{assert.Below(assert.P50, 100*time.Millisecond)}, assert.Count(5)))
}
