package scenario_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/nftables"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// natFamilyNet is a1 — gw — outside in IPv4 and IPv6; outside routes the
// inside subnets back to gw, so without NAT a datagram still arrives, from
// a1's own address. rule, if not nil, is gw's masquerade rule.
func natFamilyNet(rule *scenario.NATRule) *scenario.Spec {
	s := scenario.Define("nat-family", "")
	s.Host("a1").Route("default", "10.122.1.2").Route("default", "fd00:122:1::2")
	gw := s.Router("gw")
	if rule != nil {
		gw.NAT(*rule)
	}
	s.Host("outside").Route("10.122.1.0/24", "203.0.113.1").Route("fd00:122:1::/64", "2001:db8:1::1")
	s.Link("a1", "gw:lan").Addrs("10.122.1.1/24", "10.122.1.2/24").Addrs("fd00:122:1::1/64", "fd00:122:1::2/64")
	s.Link("gw:wan", "outside").Addrs("203.0.113.1/24", "203.0.113.2/24").Addrs("2001:db8:1::1/64", "2001:db8:1::2/64")
	return s
}

// TestNATTableFamilies: a masquerade rule in a table of family inet
// translates IPv4 and IPv6, in family ip IPv4 only, in ip6 IPv6 only; its
// counter is found in whichever table it is; without the rule nothing is
// translated.
func TestNATTableFamilies(t *testing.T) {
	hostcheck.RequireRoot(t)
	v4, v6 := netip.MustParseAddr("203.0.113.2"), netip.MustParseAddr("2001:db8:1::2")
	gw4, gw6 := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("2001:db8:1::1")
	own4, own6 := netip.MustParseAddr("10.122.1.1"), netip.MustParseAddr("fd00:122:1::1")
	for _, tc := range []struct {
		name       string
		family     scenario.NATFamily
		rule       bool
		nft        nftables.TableFamily
		src4, src6 netip.Addr
	}{
		{"inet", scenario.NATInet, true, nftables.TableFamilyINet, gw4, gw6},
		{"default", "", true, nftables.TableFamilyINet, gw4, gw6},
		{"ip", scenario.NATIP, true, nftables.TableFamilyIPv4, gw4, own6},
		{"ip6", scenario.NATIP6, true, nftables.TableFamilyIPv6, own4, gw6},
		{"no rule", "", false, 0, own4, own6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rule *scenario.NATRule
			if tc.rule {
				rule = &scenario.NATRule{Name: "masq", Action: scenario.Masquerade, Match: scenario.Match{Out: "wan"}, TableFamily: tc.family}
			}
			n := scenario.New(t, natFamilyNet(rule))
			a1, out, gw := n.Node("a1"), n.Node("outside"), n.Node("gw")
			assert.SourceIs(t, a1, out, v4, tc.src4)
			assert.SourceIs(t, a1, out, v6, tc.src6)
			if !tc.rule {
				return
			}
			c, err := gw.RuleCounter("masq")
			if err != nil || c.Packets == 0 {
				t.Errorf("counter of the rule: %v, %v", c, err)
			}
			conn, err := nftables.New(nftables.WithNetNSFd(gw.NamespaceFd()))
			if err != nil {
				t.Fatal(err)
			}
			tables, err := conn.ListTablesOfFamily(tc.nft)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, tb := range tables {
				found = found || tb.Name == scenario.NATTable
			}
			if !found {
				t.Errorf("no table %s of family %d", scenario.NATTable, tc.nft)
			}
		})
	}
}

// TestNATTableFamilyValidated: a rule whose addresses are of another
// family than its table, or an unknown family, is refused.
func TestNATTableFamilyValidated(t *testing.T) {
	for _, tc := range []struct {
		rule scenario.NATRule
		want string
	}{
		{scenario.NATRule{Action: scenario.SNAT, Match: scenario.Match{Out: "wan"}, To: "2001:db8:1::1", TableFamily: scenario.NATIP}, "translates to IPv6 in a table of family ip"},
		{scenario.NATRule{Action: scenario.DNAT, Match: scenario.Match{In: "wan"}, To: "10.122.1.1", TableFamily: scenario.NATIP6}, "in a table of family ip6"},
		{scenario.NATRule{Action: scenario.Masquerade, Match: scenario.Match{Out: "wan"}, TableFamily: "bridge"}, `table family "bridge" is unknown`},
	} {
		err := natFamilyNet(&tc.rule).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "fix:") {
			t.Errorf("%+v: %v, want %q", tc.rule, err, tc.want)
		}
	}
}
