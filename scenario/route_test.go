package scenario

import (
	"testing"
	"time"
)

// twoPaths is a host with two links to one router: the router is reachable
// over both.
func twoPaths(s *Spec) {
	s.Host("h")
	s.Router("r")
	s.Link("h:p1", "r:p1").Subnet("10.0.1.0/24")
	s.Link("h:p2", "r:p2").Subnet("10.0.2.0/24")
}

// TestValidateRejectsL3 covers every routing, NAT, firewall and impairment
// option: each bad definition is refused with the object and the fix, and
// creates nothing.
func TestValidateRejectsL3(t *testing.T) {
	tests := []struct {
		name   string
		define func(s *Spec)
		want   []string
	}{
		{"gateway node reachable over two links", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].Route("10.9.0.0/16", "r")
		}, []string{`node "h" route 10.9.0.0/16 via r`, `node "r" is reachable over 2 links`, "h:p1—r:p1 at 10.0.1.2", "h:p2—r:p2 at 10.0.2.2", "pick one link with Dev"}},
		{"same destination twice", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].AddRoute(RouteSpec{Dst: "10.9.0.0/16", Via: "r", Dev: "p1"}).AddRoute(RouteSpec{Dst: "10.9.0.0/16", Via: "r", Dev: "p2"})
		}, []string{"already routed in table 254 with metric 0", `"file exists"`, "Nexthops"}},
		{"route on a missing interface", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].AddRoute(RouteSpec{Dst: "10.9.0.0/16", Dev: "p9"})
		}, []string{`interface "p9" does not exist on node "h"`, "p1, p2"}},
		{"gateway not on the named interface", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].AddRoute(RouteSpec{Dst: "10.9.0.0/16", Via: "10.0.2.2", Dev: "p1"})
		}, []string{"gateway 10.0.2.2 is not on a subnet of h:p1"}},
		{"blackhole with a gateway", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].AddRoute(RouteSpec{Dst: "10.9.0.0/16", Via: "r", Type: RouteBlackhole})
		}, []string{"a blackhole route has a gateway"}},
		{"multipath with Via", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].AddRoute(RouteSpec{Dst: "10.9.0.0/16", Via: "r", Nexthops: []Nexthop{{Via: "10.0.1.2"}}})
		}, []string{"both Via/Dev and Nexthops"}},
		{"nexthop weight out of range", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].AddRoute(RouteSpec{Dst: "10.9.0.0/16", Nexthops: []Nexthop{{Via: "10.0.1.2", Weight: 300}, {Via: "10.0.2.2"}}})
		}, []string{"weight 300 is out of range"}},
		{"local table", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].AddRoute(RouteSpec{Dst: "10.9.0.0/16", Via: "10.0.1.2", Table: 255})
		}, []string{"table 255 cannot hold vtest routes"}},
		{"negative metric", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].AddRoute(RouteSpec{Dst: "10.9.0.0/16", Via: "10.0.1.2", Metric: -1})
		}, []string{"metric -1 is out of range"}},
		{"preferred source not the node's", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].AddRoute(RouteSpec{Dst: "10.9.0.0/16", Via: "10.0.1.2", Src: "10.0.1.2"})
		}, []string{`preferred source 10.0.1.2 is not an address of "h"`}},
		{"unknown route type", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].AddRoute(RouteSpec{Dst: "10.9.0.0/16", Type: RouteType(9)})
		}, []string{"unknown route type 9"}},
		{"rule to an unknown table", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].Rule(RuleSpec{From: "10.0.2.0/24", Table: 100})
		}, []string{`node "h" rule #1`, "table 100 has no routes", "Table: 100"}},
		{"rule on a missing interface", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].AddRoute(RouteSpec{Dst: "default", Via: "10.0.2.2", Table: 100}).Rule(RuleSpec{IIF: "wan", Table: 100})
		}, []string{`interface "wan" does not exist on node "h"`}},
		{"rule mixing families", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].Rule(RuleSpec{From: "10.0.2.0/24", To: "fd00::/64"})
		}, []string{"different address families"}},
		{"rule priority reserved", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].Rule(RuleSpec{Priority: 32766})
		}, []string{"priority 32766 is out of range"}},
		{"rule mask without mark", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].Rule(RuleSpec{Mask: 0xff})
		}, []string{"mark mask but no mark"}},
		{"neighbour with a bad MAC", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].Neighbour("p1", "10.0.1.9", "02:00:00")
		}, []string{"not an Ethernet address"}},
		{"neighbour on a missing interface", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].Neighbour("p7", "10.0.1.9", "02:00:00:00:00:09")
		}, []string{`interface "p7" does not exist`}},
		{"second address outside the link's subnets", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Subnet("10.0.0.0/24").Subnet("10.0.5.0/24").Addrs("10.0.6.1/24", "")
		}, []string{"10.0.6.1/24", "outside the subnet"}},
		{"device nexthop without interface", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].AddRoute(RouteSpec{Dst: "10.9.0.0/16", Nexthops: []Nexthop{{Weight: 2}}})
		}, []string{"has neither a gateway nor an interface", "set Via, Dev or both"}},
		{"preferred source of another family", func(s *Spec) {
			twoPaths(s)
			s.Link("h:p3", "r:p3").Subnet("fd00:3::/64")
			s.Nodes()[0].AddRoute(RouteSpec{Dst: "10.9.0.0/16", Via: "10.0.1.2", Src: "fd00:3::1"})
		}, []string{"no gateway of the preferred source's address family"}},
		{"preferred source garbage", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].AddRoute(RouteSpec{Dst: "10.9.0.0/16", Via: "10.0.1.2", Src: "me"})
		}, []string{`preferred source "me" is not an IP address`}},
		{"multipath via a node on no shared link", func(s *Spec) {
			twoPaths(s)
			s.Host("far")
			s.Nodes()[0].AddRoute(RouteSpec{Dst: "10.9.0.0/16", Nexthops: []Nexthop{{Via: "r", Dev: "p1"}, {Via: "far"}}})
		}, []string{`node "far" shares no subnet with "h"`}},
		{"neighbour that is the node itself", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].Neighbour("p1", "10.0.1.1", "02:00:00:00:00:09")
		}, []string{"10.0.1.1 is the node's own address"}},
		{"neighbour with a bad address", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].Neighbour("p1", "10.0.1", "02:00:00:00:00:09")
		}, []string{`"10.0.1" is not an IP address`}},
		{"rule with a bad prefix", func(s *Spec) {
			twoPaths(s)
			s.Nodes()[0].Rule(RuleSpec{To: "10.0.0.0/33"})
		}, []string{"not a valid CIDR"}},
		// NAT.
		{"NAT unknown action", func(s *Spec) {
			natRouter(s).NAT(NATRule{Action: "redirect"})
		}, []string{`action "redirect" is unknown`}},
		{"NAT target port 0", func(s *Spec) {
			natRouter(s).NAT(NATRule{Action: DNAT, Match: Match{Proto: "tcp"}, To: "10.0.1.2:0"})
		}, []string{"target port 0"}},
		{"masquerade with a target", func(s *Spec) {
			natRouter(s).NAT(NATRule{Action: Masquerade, Match: Match{Out: "wan"}, To: "203.0.113.1"})
		}, []string{"a masquerade rule has a To address"}},
		{"NAT unknown family", func(s *Spec) {
			natRouter(s).NAT(NATRule{Action: Masquerade, Match: Match{Out: "wan", Family: "ipx"}})
		}, []string{`family "ipx" is unknown`}},
		{"DNAT matching an output interface", func(s *Spec) {
			natRouter(s).NAT(NATRule{Action: DNAT, Match: Match{Out: "lan"}, To: "10.0.1.2"})
		}, []string{`Out interface "lan" cannot be matched at the prerouting hook`}},
		{"DNAT with a bad port range", func(s *Spec) {
			natRouter(s).NAT(NATRule{Action: DNAT, Match: Match{Proto: "tcp", DPort: "9000-8000", In: "wan"}, To: "10.0.1.2"})
		}, []string{`NAT rule #1`, `port range "9000-8000" runs backwards`, "low-high"}},
		{"port without protocol", func(s *Spec) {
			natRouter(s).NAT(NATRule{Action: DNAT, Match: Match{DPort: "80"}, To: "10.0.1.2"})
		}, []string{`DPort "80" without Proto tcp or udp`}},
		{"DNAT to a port without protocol", func(s *Spec) {
			natRouter(s).NAT(NATRule{Action: DNAT, To: "10.0.1.2:80"})
		}, []string{"translates to port 80 without Proto"}},
		{"SNAT target with a port", func(s *Spec) {
			natRouter(s).NAT(NATRule{Action: SNAT, Match: Match{Out: "wan", Proto: "udp"}, To: "203.0.113.1:5"})
		}, []string{"SNAT target", "has a port"}},
		{"NAT target garbage", func(s *Spec) {
			natRouter(s).NAT(NATRule{Action: SNAT, To: "router"})
		}, []string{`target "router" is not an address`}},
		{"NAT target of another family", func(s *Spec) {
			natRouter(s).NAT(NATRule{Action: SNAT, Match: Match{Src: "10.0.1.0/24"}, To: "fd00::1"})
		}, []string{"another family"}},
		{"NAT on a host", func(s *Spec) {
			s.Host("h").NAT(NATRule{Action: Masquerade, Match: Match{Out: "eth0"}})
		}, []string{"is on a host", "Router"}},
		{"SNAT matching an input interface", func(s *Spec) {
			natRouter(s).NAT(NATRule{Action: SNAT, Match: Match{In: "lan"}, To: "203.0.113.1"})
		}, []string{`In interface "lan" cannot be matched at the postrouting hook`}},
		{"masquerade without output", func(s *Spec) {
			natRouter(s).NAT(NATRule{Action: Masquerade, FullyRandom: true})
		}, []string{"masquerades without an output interface"}},
		{"random and fully random", func(s *Spec) {
			natRouter(s).NAT(NATRule{Action: Masquerade, Match: Match{Out: "wan"}, Random: true, FullyRandom: true})
		}, []string{"both Random and FullyRandom"}},
		{"NAT without action", func(s *Spec) {
			natRouter(s).NAT(NATRule{Match: Match{Out: "wan"}})
		}, []string{"has no action"}},
		{"NAT rule on a missing interface", func(s *Spec) {
			natRouter(s).NAT(NATRule{Action: Masquerade, Match: Match{Out: "wan0"}})
		}, []string{`Out interface "wan0" does not exist on node "gw"`, "lan, wan"}},
		// Firewall.
		{"firewall unknown hook", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Hook: "prerouting", Action: Drop})
		}, []string{`hook "prerouting" is unknown`}},
		{"firewall address garbage", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Hook: HookInput, Match: Match{Src: "somewhere"}, Action: Drop})
		}, []string{`Src "somewhere" is neither a CIDR nor an address`}},
		{"firewall without hook", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Action: Drop})
		}, []string{`firewall rule #1`, "has no hook"}},
		{"firewall unknown action", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Name: "x", Hook: HookInput, Action: "deny"})
		}, []string{`firewall rule "x"`, `action "deny" is unknown`}},
		{"firewall port 0", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Hook: HookInput, Match: Match{Proto: "tcp", DPort: "0"}, Action: Drop})
		}, []string{"port 0"}},
		{"firewall port garbage", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Hook: HookInput, Match: Match{Proto: "udp", SPort: "http"}, Action: Drop})
		}, []string{`"http" is not a port`}},
		{"firewall port above 65535", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Hook: HookInput, Match: Match{Proto: "udp", DPort: "1-70000"}, Action: Drop})
		}, []string{`"1-70000" is not a port`}},
		{"firewall unknown protocol", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Hook: HookInput, Match: Match{Proto: "sctp"}, Action: Drop})
		}, []string{`protocol "sctp" is unknown`}},
		{"firewall TCP reset for UDP", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Hook: HookInput, Match: Match{Proto: "udp"}, Action: Reject, RejectWith: RejectTCPReset})
		}, []string{"TCP reset but does not match TCP only"}},
		{"firewall reject kind on drop", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Hook: HookInput, Action: Drop, RejectWith: RejectAdminProhibited})
		}, []string{"has RejectWith but the action is drop"}},
		{"firewall unknown reject kind", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Hook: HookInput, Action: Reject, RejectWith: "go-away"})
		}, []string{`reject kind "go-away" is unknown`}},
		{"firewall unknown state", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Hook: HookInput, Match: Match{State: []string{"open"}}, Action: Accept})
		}, []string{`conntrack state "open" is unknown`}},
		{"firewall output matching input interface", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Hook: HookOutput, Match: Match{In: "lo"}, Action: Accept})
		}, []string{`cannot be matched at the output hook`}},
		{"firewall on a missing interface", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Hook: HookInput, Match: Match{In: "eth3"}, Action: Drop})
		}, []string{`In interface "eth3" does not exist on node "h"`}},
		{"firewall mixing families", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Hook: HookInput, Match: Match{Src: "10.0.0.0/8", Proto: "icmpv6"}, Action: Drop})
		}, []string{"mixes IPv4 (Src 10.0.0.0/8) and IPv6 (Proto icmpv6)"}},
		{"firewall prefix with host bits", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Hook: HookInput, Match: Match{Dst: "10.0.0.1/8"}, Action: Drop})
		}, []string{"host bits set"}},
		{"firewall duplicate name", func(s *Spec) {
			s.Host("h").Firewall(FirewallRule{Name: "a", Hook: HookInput, Action: Drop}).Firewall(FirewallRule{Name: "a", Hook: HookOutput, Action: Drop})
		}, []string{"the name is used twice"}},
		{"firewall on a switch", func(s *Spec) {
			s.Switch("sw").Firewall(FirewallRule{Hook: HookForward, Action: Drop})
		}, []string{"is on a switch"}},
		// Impairments.
		{"loss above 100%", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Impair(Impairment{Loss: 120})
		}, []string{"loss 120% is not a percentage"}},
		{"jitter without delay", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Impair(Impairment{Jitter: time.Millisecond})
		}, []string{"jitter 1ms is negative or larger than the delay 0s"}},
		{"reorder without delay", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Impair(Impairment{Reorder: 10})
		}, []string{"reorder without delay"}},
		{"rate too low", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Impair(Impairment{Rate: 100})
		}, []string{"rate 100 bit/s is too low"}},
		{"impairment from no end", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").ImpairFrom("c", Impairment{Rate: 1e6})
		}, []string{`ImpairFrom("c") names neither end`, `use "a" or "b"`}},
		{"one direction impaired twice", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").ImpairFrom("a", Impairment{Rate: 1e6}).Impair(Impairment{Loss: 1})
		}, []string{"the traffic leaving a:eth0 is impaired twice"}},
		{"delay and impairment", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Delay(time.Millisecond).ImpairFrom("b", Impairment{Rate: 1e6})
		}, []string{"both Delay and an impairment"}},
		{"negative delay", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Impair(Impairment{Delay: -time.Millisecond})
		}, []string{"delay -1ms is out of range"}},
		{"ImpairFrom without an end", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").ImpairFrom("", Impairment{Loss: 1})
		}, []string{`ImpairFrom("") names neither end`}},
		{"empty impairment", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Impair(Impairment{})
		}, []string{"the impairment is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Define("t", "")
			tt.define(s)
			refused(t, s, append(tt.want, `scenario "t"`, "fix:")...)
		})
	}
}

// natRouter defines lan — gw — wan and returns the router.
func natRouter(s *Spec) *NodeSpec {
	gw := s.Router("gw")
	s.Host("in")
	s.Host("out")
	s.Link("in", "gw:lan").Subnet("10.0.1.0/24")
	s.Link("gw:wan", "out").Addrs("203.0.113.1/24", "203.0.113.2/24")
	return gw
}

// TestExplicitIPv6NeedsFeature: explicit IPv6 addresses, not only
// Spec.IPv6, make a scenario need the IPv6 feature.
func TestExplicitIPv6NeedsFeature(t *testing.T) {
	for name, define := range map[string]func(s *Spec){
		"link address": func(s *Spec) { s.Link("a", "b").Addrs("fd00::1/64", "fd00::2/64") },
		"link subnet":  func(s *Spec) { s.Link("a", "b").Subnet("fd00:1::/64") },
		"route":        func(s *Spec) { s.Nodes()[0].Route("fd00:9::/64", "b") },
		"declared interface": func(s *Spec) {
			s.Nodes()[0].Iface("mv0", Macvlan{Parent: "eth0"}).Addrs("fd00:5::1/64")
		},
	} {
		s := Define("t", "")
		s.Host("a")
		s.Host("b")
		define(s)
		found := false
		for _, f := range s.Features() {
			found = found || f == FeatureIPv6
		}
		if !found {
			t.Errorf("%s: features %v lack ipv6", name, s.Features())
		}
	}
	s := Define("t", "")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b").Subnet("10.0.0.0/24")
	for _, f := range s.Features() {
		if f == FeatureIPv6 {
			t.Errorf("IPv4-only scenario needs ipv6")
		}
	}
}

// TestTwoLinkGatewayResolved: naming the link, or spreading over both,
// resolves the gateway node that is reachable over two links.
func TestTwoLinkGatewayResolved(t *testing.T) {
	s := Define("t", "")
	twoPaths(s)
	s.Nodes()[0].AddRoute(RouteSpec{Dst: "10.9.0.0/16", Via: "r", Dev: "p2"}).
		AddRoute(RouteSpec{Dst: "10.8.0.0/16", Nexthops: []Nexthop{{Via: "r", Dev: "p1"}, {Via: "r", Dev: "p2", Weight: 3}}})
	p, err := s.plan()
	if err != nil {
		t.Fatal(err)
	}
	got := []string{p.nodes[0].routes[0].String(), p.nodes[0].routes[1].String()}
	want := []string{"10.9.0.0/16 via 10.0.2.2 dev p2", "10.8.0.0/16 nexthop via 10.0.1.2 dev p1 weight 1 nexthop via 10.0.2.2 dev p2 weight 3"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("route %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// TestSeveralSubnetsOnOneLink: Subnet twice gives an end without explicit
// addresses an address in each subnet; an end with explicit addresses gets
// exactly those, and the end an Addrs call left empty none in that
// address's subnet.
func TestSeveralSubnetsOnOneLink(t *testing.T) {
	s := Define("t", "")
	s.Host("a")
	s.Host("b")
	s.Host("c")
	s.Link("a", "b").Subnet("10.0.0.0/24").Subnet("10.0.5.0/24").Addrs("10.0.5.7/24", "")
	s.Link("a", "c").Subnet("10.0.1.0/24").Subnet("10.0.6.0/24")
	p, err := s.plan()
	if err != nil {
		t.Fatal(err)
	}
	a, b := p.nodes[0].ifaces[0].addrs, p.nodes[1].ifaces[0].addrs
	if len(a) != 1 || a[0].String() != "10.0.5.7/24" {
		t.Errorf("a = %v, want exactly 10.0.5.7/24", a)
	}
	if len(b) != 1 || b[0].String() != "10.0.0.1/24" {
		t.Errorf("b = %v, want 10.0.0.1/24 only", b)
	}
	a1, c := p.nodes[0].ifaces[1].addrs, p.nodes[2].ifaces[0].addrs
	if len(a1) != 2 || a1[0].String() != "10.0.1.1/24" || a1[1].String() != "10.0.6.1/24" {
		t.Errorf("a:eth1 = %v", a1)
	}
	if len(c) != 2 || c[0].String() != "10.0.1.2/24" || c[1].String() != "10.0.6.2/24" {
		t.Errorf("c = %v", c)
	}
}

// TestL3Features: NAT rules, firewalls and impairments declare the kernel
// features they need, so scenarios skip with the probe's reason.
func TestL3Features(t *testing.T) {
	s := Define("t", "")
	natRouter(s).
		NAT(NATRule{Action: DNAT, Match: Match{Proto: "tcp", DPort: "80"}, To: "10.0.1.2"}).
		NAT(NATRule{Action: Masquerade, Match: Match{Out: "wan"}}).
		Firewall(FirewallRule{Hook: HookInput, Action: Drop})
	s.Link("in:x", "out:x").Impair(Impairment{Rate: 1e6}).Impair(Impairment{Duplicate: 1})
	got := map[Feature]bool{}
	for _, f := range s.Features() {
		got[f] = true
	}
	for _, f := range []Feature{FeatureNAT, FeatureMasquerade, FeatureNFTables, FeatureTBF, FeatureNetem} {
		if !got[f] {
			t.Errorf("features %v lack %s", s.Features(), f)
		}
	}
}

// TestL3OnDeclaredInterfaces: routes, rules, neighbours and firewall rules
// may name interfaces declared with Iface, not only veth ends.
func TestL3OnDeclaredInterfaces(t *testing.T) {
	s := Define("t", "")
	h := s.Host("h")
	h.Iface("mv0", Macvlan{Parent: "eth0"}).Addrs("10.0.7.1/24")
	h.AddRoute(RouteSpec{Dst: "10.8.0.0/16", Dev: "mv0"}).
		AddRoute(RouteSpec{Dst: "10.9.0.0/16", Via: "10.0.7.2", Table: 7}).
		Rule(RuleSpec{IIF: "mv0", Table: 7}).
		Neighbour("mv0", "10.0.7.2", "02:00:00:00:00:02").
		Firewall(FirewallRule{Hook: HookInput, Match: Match{In: "mv0"}, Action: Drop})
	s.Host("b")
	s.Link("h", "b").Subnet("10.0.0.0/24")
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}
