package assert

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/scenario"
)

// ConntrackResult is the evidence of a conntrack check: the entries of a
// node's connection-tracking table whose original destination is Dst.
type ConntrackResult struct {
	Node    string
	Dst     netip.Addr
	Port    int
	Entries []string
	Want    string
}

// Evidence lists the matching entries.
func (r *ConntrackResult) Evidence() string {
	dst := r.Dst.String()
	if r.Port > 0 {
		dst = netip.AddrPortFrom(r.Dst, uint16(r.Port)).String()
	}
	if len(r.Entries) == 0 {
		return fmt.Sprintf("%s conntrack to %s: no entry; want %s", r.Node, dst, r.Want)
	}
	return fmt.Sprintf("%s conntrack to %s: %s; want %s", r.Node, dst, strings.Join(r.Entries, "; "), r.Want)
}

// Conntrack checks a node's conntrack table for a flow to dst (and Port,
// if set): at least one entry, or none with Absent().
func Conntrack(ctx context.Context, nd *scenario.Node, dst netip.Addr, opts ...Option) (*ConntrackResult, error) {
	o, err := build(Options{}, opts)
	if err != nil {
		return nil, fmt.Errorf("conntrack: %w", err)
	}
	r := &ConntrackResult{Node: nd.Name(), Dst: dst, Port: o.Port, Want: "an entry"}
	if o.Absent {
		r.Want = "none"
	}
	flows, err := conntrackFlows(nd, dst.Is6())
	if err != nil {
		return r, fmt.Errorf("conntrack of %s: %w", nd.Name(), err)
	}
	for _, f := range flows {
		fw, rv := f.Forward, f.Reverse
		a, _ := netip.AddrFromSlice(fw.DstIP)
		if a.Unmap() != dst || (o.Port > 0 && int(fw.DstPort) != o.Port) {
			continue
		}
		r.Entries = append(r.Entries, fmt.Sprintf("%s %s:%d→%s:%d reply %s:%d→%s:%d", protoName(fw.Protocol),
			fw.SrcIP, fw.SrcPort, fw.DstIP, fw.DstPort, rv.SrcIP, rv.SrcPort, rv.DstIP, rv.DstPort))
	}
	switch {
	case o.Absent && len(r.Entries) > 0:
		return r, fmt.Errorf("%s tracks a flow to %s: %s", nd.Name(), dst, r.Evidence())
	case !o.Absent && len(r.Entries) == 0:
		return r, fmt.Errorf("%s tracks no flow to %s: %s", nd.Name(), dst, r.Evidence())
	}
	return r, nil
}

func protoName(p uint8) string {
	switch p {
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_UDP:
		return "udp"
	case unix.IPPROTO_ICMP:
		return "icmp"
	case unix.IPPROTO_ICMPV6:
		return "icmpv6"
	}
	return fmt.Sprintf("proto %d", p)
}

// conntrackFlows lists a node's conntrack table through a netfilter
// netlink socket opened in its namespace.
func conntrackFlows(nd *scenario.Node, v6 bool) ([]*netlink.ConntrackFlow, error) {
	ns, err := netns.GetFromPath(fmt.Sprintf("/proc/self/fd/%d", inside.NamespaceFd(nd)))
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	family := netlink.InetFamily(netlink.FAMILY_V4)
	if v6 {
		family = netlink.FAMILY_V6
	}
	return h.ConntrackTableList(netlink.ConntrackTable, family)
}

// ConntrackEntry is a scenario check of a node's conntrack table for a
// flow to target (a node name or an address); see Conntrack.
func ConntrackEntry(node string, target Target, opts ...Option) scenario.CheckFunc {
	return named("ConntrackEntry", conntrackReads, Conntrack, node, target, opts)
}

// Tracks fails the test unless the node's conntrack table is as expected
// for target; see Conntrack.
//
// Deprecated: use assert.Check(t, n, assert.ConntrackEntry(…)).
func Tracks(t TestingT, nd *scenario.Node, target Target, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, nd.Network(), ConntrackEntry(nd.Name(), target, opts...))
}
