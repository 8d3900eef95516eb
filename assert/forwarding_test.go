package assert_test

import (
	"net"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestForwardedCountsItsOwnRequests: the router answers the trace's first
// hop, the destination answers the second, yet the request that reached
// the destination went around the router (the client routes packets with
// a TTL above 1 through r2). Hops alone say "forwarded"; the router's own
// interfaces, watched for the trace's requests, say it did not forward it.
func TestForwardedCountsItsOwnRequests(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("around", "")
	s.Host("client").Route("default", "router")
	s.Router("router")
	s.Router("r2").Route("10.0.2.0/24", "server").Route("10.0.1.0/24", "client")
	s.Host("server").Route("default", "router").
		Sysctl("net.ipv4.conf.all.rp_filter", "0").Sysctl("net.ipv4.conf.alt.rp_filter", "0")
	s.Link("client", "router").Subnet("10.0.1.0/24")
	s.Link("router", "server").Subnet("10.0.2.0/24")
	s.Link("client:alt", "r2").Subnet("10.0.4.0/24")
	s.Link("r2", "server:alt").Subnet("10.0.5.0/24")
	n := scenario.New(t, s)
	check := assert.Forwarded("client", "10.0.2.2", "router")
	if r := check(ctx, n); r.Err != nil {
		t.Fatalf("before the detour: %v", r.Err)
	} else if !strings.Contains(r.Evidence, "(TTL 2) left router through eth1") {
		t.Errorf("evidence of the healthy path: %s", r.Evidence)
	}

	client := n.Node("client")
	detourAboveTTL1(t, client, n.Node("r2").Interface("eth0").Addrs[0].Addr().AsSlice())
	r := check(ctx, n)
	if r.Err == nil {
		t.Fatalf("passed while the reaching request went around the router:\n%s", r.Evidence)
	}
	for _, w := range []string{"1 10.0.1.2 (router) time exceeded", "2 10.0.2.2 (server) echo reply",
		"router:eth1 in 0 out 0", "the echo request that reached 10.0.2.2 (TTL 2) did not leave router: it took another path"} {
		if !strings.Contains(r.Err.Error(), w) {
			t.Errorf("failure lacks %q:\n%v", w, r.Err)
		}
	}
}

// detourAboveTTL1 makes a node route its own IPv4 packets with a TTL above
// 1 through gw (a mark set by nftables, a rule to table 100).
func detourAboveTTL1(t *testing.T, nd *scenario.Node, gw net.IP) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(nd.NamespaceFd()), nftables.AsLasting())
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseLasting()
	tb := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "detour"})
	ch := c.AddChain(&nftables.Chain{Name: "out", Table: tb, Type: nftables.ChainTypeRoute, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityMangle})
	c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{1}},
		&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(1)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	h := nd.Netlink()
	rule := netlink.NewRule()
	rule.Mark, rule.Table, rule.Priority, rule.Family = 1, 100, 100, unix.AF_INET
	if err := h.RuleAdd(rule); err != nil {
		t.Fatal(err)
	}
	_, all, _ := net.ParseCIDR("0.0.0.0/0")
	if err := h.RouteAdd(&netlink.Route{Dst: all, Gw: gw, Table: 100}); err != nil {
		t.Fatal(err)
	}
}
