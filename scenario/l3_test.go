package scenario_test

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestL3Build builds every routing option and reads the kernel's state
// back: routes of every type, weighted IPv4 and IPv6 multipath, metrics,
// tables, preferred sources, policy rules and static neighbours.
func TestL3Build(t *testing.T) {
	hostcheck.RequireRoot(t)
	before := hostcheck.Take(t)
	s := scenario.Define("l3", "")
	s.Host("h").
		AddRoute(scenario.RouteSpec{Dst: "10.9.0.0/16", Nexthops: []scenario.Nexthop{{Via: "r", Dev: "p1", Weight: 1}, {Via: "r", Dev: "p2", Weight: 3}}}).
		AddRoute(scenario.RouteSpec{Dst: "fd09::/64", Nexthops: []scenario.Nexthop{{Via: "r", Dev: "p1"}, {Via: "r", Dev: "p2"}}}).
		AddRoute(scenario.RouteSpec{Dst: "10.66.0.0/16", Type: scenario.RouteBlackhole}).
		AddRoute(scenario.RouteSpec{Dst: "10.67.0.0/16", Type: scenario.RouteUnreachable}).
		AddRoute(scenario.RouteSpec{Dst: "10.68.0.0/16", Type: scenario.RouteProhibit}).
		AddRoute(scenario.RouteSpec{Dst: "10.70.0.0/16", Dev: "p1", Metric: 50}).
		AddRoute(scenario.RouteSpec{Dst: "10.70.0.0/16", Via: "10.0.2.2", Metric: 10, Src: "10.0.5.1"}).
		AddRoute(scenario.RouteSpec{Dst: "default", Via: "r", Dev: "p2", Table: 200}).
		Rule(scenario.RuleSpec{Priority: 1000, From: "10.0.5.0/24", Table: 200}).
		Rule(scenario.RuleSpec{Priority: 1001, Mark: 0x10, Mask: 0xf0, IIF: "lo", Table: 200}).
		Rule(scenario.RuleSpec{Priority: 1002, To: "fd77::/64", OIF: "p1", Table: 200}).
		Neighbour("p1", "10.0.1.77", "02:00:00:00:00:77").
		Neighbour("p1", "fd01::77", "02:00:00:00:00:78")
	s.Router("r")
	s.Link("h:p1", "r:p1").Subnet("10.0.1.0/24").Subnet("fd01::/64").ImpairFrom("h:p1", scenario.Impairment{Rate: 100_000_000})
	s.Link("h:p2", "r:p2").Subnet("10.0.2.0/24").Subnet("fd02::/64").Subnet("10.0.5.0/24")
	if !slices.Contains(s.Features(), scenario.FeatureIPv6) {
		t.Errorf("explicit IPv6 subnets: features %v lack ipv6", s.Features())
	}
	n := scenario.New(t, s)
	h := n.Node("h")
	nl := h.Netlink()
	p1, p2 := h.Interface("p1").Index, h.Interface("p2").Index

	all, err := nl.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	find := func(dst string, table, metric int) *netlink.Route {
		for i, r := range all {
			if r.Dst != nil && r.Dst.String() == dst && r.Table == table && r.Priority == metric {
				return &all[i]
			}
			if (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") && dst == "default" && r.Table == table && r.Family == netlink.FAMILY_V4 {
				return &all[i]
			}
		}
		t.Errorf("no route %s table %d metric %d", dst, table, metric)
		return nil
	}
	if r := find("10.9.0.0/16", 254, 0); r != nil {
		weights := map[int]int{}
		for _, nh := range r.MultiPath {
			weights[nh.LinkIndex] = nh.Hops + 1
		}
		if len(r.MultiPath) != 2 || weights[p1] != 1 || weights[p2] != 3 {
			t.Errorf("10.9.0.0/16 nexthops %v, want p1 weight 1 and p2 weight 3", r.MultiPath)
		}
	}
	if r := find("fd09::/64", 254, 1024); r != nil && len(r.MultiPath) != 2 {
		t.Errorf("fd09::/64 is not multipath: %v", r)
	}
	for dst, typ := range map[string]int{"10.66.0.0/16": unix.RTN_BLACKHOLE, "10.67.0.0/16": unix.RTN_UNREACHABLE, "10.68.0.0/16": unix.RTN_PROHIBIT} {
		if r := find(dst, 254, 0); r != nil && r.Type != typ {
			t.Errorf("%s type %d, want %d", dst, r.Type, typ)
		}
	}
	if r := find("10.70.0.0/16", 254, 50); r != nil && (r.LinkIndex != p1 || r.Gw != nil || r.Scope != netlink.SCOPE_LINK) {
		t.Errorf("device route: %v", r)
	}
	if r := find("10.70.0.0/16", 254, 10); r != nil && (!r.Src.Equal(net.ParseIP("10.0.5.1")) || !r.Gw.Equal(net.ParseIP("10.0.2.2"))) {
		t.Errorf("route with source: %v", r)
	}
	if r := find("default", 200, 0); r != nil && (!r.Gw.Equal(net.ParseIP("10.0.2.2")) || r.LinkIndex != p2) {
		t.Errorf("table 200 default: %v", r)
	}
	// The kernel's choice for a flow proves rules and tables together.
	get := func(dst, src string, mark uint32) string {
		opts := &netlink.RouteGetOptions{Mark: mark}
		if src != "" {
			opts.SrcAddr = net.ParseIP(src)
		}
		rs, err := nl.RouteGetWithOptions(net.ParseIP(dst), opts)
		if err != nil {
			return err.Error()
		}
		return rs[0].Gw.String()
	}
	if got := get("192.0.2.1", "10.0.5.1", 0); got != "10.0.2.2" {
		t.Errorf("from 10.0.5.1 to 192.0.2.1: gateway %s, want 10.0.2.2 (table 200)", got)
	}
	if got := get("192.0.2.1", "", 0x13); got != "10.0.2.2" {
		t.Errorf("mark 0x13 to 192.0.2.1: gateway %s, want 10.0.2.2 (table 200)", got)
	}
	if got := get("192.0.2.1", "", 0x23); !strings.Contains(got, "unreachable") {
		t.Errorf("mark 0x23 to 192.0.2.1: %s, want network unreachable (main table has no default)", got)
	}
	rules, err := nl.RuleList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rules {
		if r.Table == 200 {
			got = append(got, r.String())
		}
	}
	if len(got) != 4 { // from (v4), fwmark (v4, v6), to (v6)
		t.Errorf("rules to table 200: %v", got)
	}
	neigh, err := nl.NeighList(p1, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	perm := map[string]string{}
	for _, ne := range neigh {
		if ne.State == netlink.NUD_PERMANENT {
			perm[ne.IP.String()] = ne.HardwareAddr.String()
		}
	}
	if perm["10.0.1.77"] != "02:00:00:00:00:77" || perm["fd01::77"] != "02:00:00:00:00:78" {
		t.Errorf("permanent neighbours on p1: %v", perm)
	}
	// The state dump shows what the main-table listing leaves out.
	dump := n.DumpState()
	for _, w := range []string{"nexthop via 10.0.1.2 dev p1 weight 1", "nexthop via 10.0.2.2 dev p2 weight 3", "blackhole", "table 200",
		"ip rule 1000: from 10.0.5.0/24 table 200", "ip rule 1001: iif lo fwmark 0x10/0xf0 table 200",
		"ip6 rule 1002: to fd77::/64 oif p1 table 200", "qdisc tbf dev p1 rate 100000000 bit/s"} {
		if !strings.Contains(dump, w) {
			t.Errorf("state dump lacks %q:\n%s", w, dump)
		}
	}
	// The multipath routes leave for r; r is reachable in both families.
	assert.Reachable(t, h, "r")
	assert.Reachable(t, h, "r", assert.IPv6())
	n.Close()
	hostcheck.Unchanged(t, before)
}

// TestNATAndFirewallBuild reads back what NAT rules and firewall rules put
// in the kernel: masquerade flags, SNAT to an address (seen by the
// outside), and rule comments.
func TestNATAndFirewallBuild(t *testing.T) {
	hostcheck.RequireRoot(t)
	before := hostcheck.Take(t)
	s := scenario.Define("nat", "")
	s.Host("in").Route("default", "gw")
	s.Router("gw").
		NAT(scenario.NATRule{Name: "masq", Action: scenario.Masquerade, Match: scenario.Match{Out: "wan", Proto: "tcp"}, FullyRandom: true, Persistent: true}).
		NAT(scenario.NATRule{Name: "snat", Action: scenario.SNAT, Match: scenario.Match{Out: "wan", Proto: "udp"}, To: "203.0.113.9", Random: true}).
		NAT(scenario.NATRule{Name: "snat6", Action: scenario.SNAT, Match: scenario.Match{Out: "wan"}, To: "2001:db8::9"}).
		Firewall(scenario.FirewallRule{Name: "no-telnet", Hook: scenario.HookInput, Match: scenario.Match{Proto: "tcp", DPort: "23"}, Action: scenario.Reject, RejectWith: scenario.RejectAdminProhibited})
	s.Host("out")
	s.Link("in", "gw:lan").Subnet("10.0.1.0/24").Subnet("fd00:1::/64")
	s.Link("gw:wan", "out").Addrs("203.0.113.1/24", "203.0.113.2/24").Addrs("2001:db8::1/64", "2001:db8::2/64").Addrs("203.0.113.9/24", "").Addrs("2001:db8::9/64", "")
	n := scenario.New(t, s)
	gw := n.Node("gw")
	c, err := nftables.New(nftables.WithNetNSFd(gw.NamespaceFd()))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := c.GetRules(&nftables.Table{Name: scenario.NATTable, Family: nftables.TableFamilyINet}, &nftables.Chain{Name: "postrouting"})
	if err != nil || len(rules) != 3 {
		t.Fatalf("postrouting rules: %d, %v", len(rules), err)
	}
	var masq *expr.Masq
	var snat *expr.NAT
	for _, x := range rules[0].Exprs {
		if m, ok := x.(*expr.Masq); ok {
			masq = m
		}
	}
	for _, x := range rules[1].Exprs {
		if m, ok := x.(*expr.NAT); ok {
			snat = m
		}
	}
	if masq == nil || !masq.FullyRandom || !masq.Persistent || masq.Random {
		t.Errorf("masquerade flags: %+v", masq)
	}
	if snat == nil || !snat.Random || snat.Type != expr.NATTypeSourceNAT {
		t.Errorf("snat: %+v", snat)
	}
	// The outside sees the SNAT address for UDP, in both families.
	in, out := n.Node("in"), n.Node("out")
	assert.SourceIs(t, in, out, netip.MustParseAddr("203.0.113.2"), netip.MustParseAddr("203.0.113.9"))
	assert.SourceIs(t, in, out, netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("2001:db8::9"))
	if cnt, err := gw.RuleCounter("snat6"); err != nil || cnt.Packets == 0 {
		t.Errorf("snat6 counter: %v, %v", cnt, err)
	}
	// The firewall answers admin-prohibited: the client sees it rejected.
	assert.Check(t, n, assert.ConnectOutcome("in", "10.0.1.2", 23, assert.Rejected))
	if cnt, err := gw.RuleCounter("no-telnet"); err != nil || cnt.Packets == 0 {
		t.Errorf("no-telnet counter: %v, %v", cnt, err)
	}
	n.Close()
	hostcheck.Unchanged(t, before)
}

// TestL3OnDeclaredInterfaceBuild: a device route and a policy rule on a
// declared (macvlan) interface reach the kernel.
func TestL3OnDeclaredInterfaceBuild(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("l3-kinds", "")
	h := s.Host("h")
	h.Iface("mv0", scenario.Macvlan{Parent: "eth0"}).Addrs("10.0.7.1/24")
	h.AddRoute(scenario.RouteSpec{Dst: "10.8.0.0/16", Dev: "mv0"}).
		AddRoute(scenario.RouteSpec{Dst: "default", Via: "10.0.7.2", Table: 7}).
		Rule(scenario.RuleSpec{Priority: 50, IIF: "lo", To: "10.9.0.0/16", Table: 7})
	s.Host("b")
	s.Link("h", "b").Subnet("10.0.0.0/24")
	n := scenario.New(t, s)
	nl := n.Node("h").Netlink()
	mv := n.Node("h").Interface("mv0")
	if mv == nil {
		t.Fatal("no mv0")
	}
	for dst, want := range map[string]int{"10.8.1.1": mv.Index, "10.9.1.1": mv.Index} {
		rs, err := nl.RouteGet(net.ParseIP(dst))
		if err != nil || len(rs) == 0 || rs[0].LinkIndex != want {
			t.Errorf("route to %s: %v, %v; want dev mv0", dst, rs, err)
		}
	}
}

// TestMasqueradeWithNATRules: Masquerade and NAT rules share table inet
// vtest-nat; the masquerade rule comes first in postrouting.
func TestMasqueradeWithNATRules(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("masq-and-rules", "")
	s.Host("in").Route("default", "gw")
	s.Router("gw").Masquerade("wan").
		NAT(scenario.NATRule{Name: "snat", Action: scenario.SNAT, Match: scenario.Match{Out: "wan"}, To: "203.0.113.9"}).
		NAT(scenario.NATRule{Name: "dnat", Action: scenario.DNAT, Match: scenario.Match{In: "wan", Proto: "udp", DPort: "53"}, To: "10.0.1.1"})
	s.Host("out")
	s.Link("in", "gw:lan").Subnet("10.0.1.0/24")
	s.Link("gw:wan", "out").Addrs("203.0.113.1/24", "203.0.113.2/24")
	n := scenario.New(t, s)
	in, out := n.Node("in"), n.Node("out")
	assert.SourceIs(t, in, out, netip.MustParseAddr("203.0.113.2"), netip.MustParseAddr("203.0.113.1"))
	if c, err := n.Node("gw").RuleCounter("snat"); err != nil || c.Packets != 0 {
		t.Errorf("snat after the masquerade rule counted %v, %v; want 0 packets", c, err)
	}
}
