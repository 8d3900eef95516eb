package assert_test

import (
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/scenario"
)

// Faults a test can inject into a built network. Each works on one node and
// through netlink or nftables only.

// linkDown sets an interface of a node down.
func linkDown(t testing.TB, nd *scenario.Node, iface string) {
	t.Helper()
	l, err := nd.Netlink().LinkByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.Netlink().LinkSetDown(l); err != nil {
		t.Fatal(err)
	}
}

// delDefaultRoute removes a node's IPv4 default route.
func delDefaultRoute(t testing.TB, nd *scenario.Node) {
	t.Helper()
	routes, err := nd.Netlink().RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
			if err := nd.Netlink().RouteDel(&r); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("%s has no default route", nd.Name())
}

func setSysctl(t testing.TB, nd *scenario.Node, name, value string) {
	t.Helper()
	if err := nd.SetSysctl(name, value); err != nil {
		t.Fatal(err)
	}
}

// firewall adds an inet filter chain on hook with one rule "meta l4proto
// icmp <verdict>" to a node.
func firewall(t testing.TB, nd *scenario.Node, hook *nftables.ChainHook, final expr.Any) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(nd.NamespaceFd()), nftables.AsLasting())
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseLasting()
	tb := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "fault"})
	ch := c.AddChain(&nftables.Chain{Name: "f", Table: tb, Type: nftables.ChainTypeFilter, Hooknum: hook, Priority: nftables.ChainPriorityFilter})
	c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMP}},
		final,
	}})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}

func dropICMP(t testing.TB, nd *scenario.Node) {
	firewall(t, nd, nftables.ChainHookInput, &expr.Verdict{Kind: expr.VerdictDrop})
}

// rejectForwardedICMP makes a router answer forwarded ICMP with
// "administratively prohibited".
func rejectForwardedICMP(t testing.TB, nd *scenario.Node) {
	firewall(t, nd, nftables.ChainHookForward, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED})
}

// removeNAT deletes the masquerade table of a NAT router.
func removeNAT(t testing.TB, nd *scenario.Node) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(nd.NamespaceFd()), nftables.AsLasting())
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseLasting()
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: scenario.NATTable})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}

// rateLimit puts a tbf qdisc on an interface: rate in bytes per second.
func rateLimit(t testing.TB, nd *scenario.Node, iface string, rate uint64) {
	t.Helper()
	l, err := nd.Netlink().LinkByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	q := &netlink.Tbf{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT},
		Rate:       rate, Limit: 64 << 10, Buffer: netlink.Xmittime(rate, 1600), // burst 1600 bytes
	}
	if err := nd.Netlink().QdiscAdd(q); err != nil {
		t.Fatalf("tbf on %s:%s: %v", nd.Name(), iface, err)
	}
}

// replaceAddr moves a node's interface from its address to another.
func replaceAddr(t testing.TB, nd *scenario.Node, iface, cidr string) {
	t.Helper()
	l, err := nd.Netlink().LinkByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := nd.Netlink().AddrList(l, netlink.FAMILY_V4)
	for _, a := range addrs {
		if err := nd.Netlink().AddrDel(l, &a); err != nil {
			t.Fatal(err)
		}
	}
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.Netlink().AddrAdd(l, a); err != nil {
		t.Fatal(err)
	}
}
