package scenario

import (
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// dumpL3 adds what the main-table listing of dump leaves out: multipath
// nexthops and route types, routes of other tables, policy rules other
// than the kernel's defaults, and root qdiscs that are not the default.
func (nd *Node) dumpL3(b *strings.Builder, names map[int]string) {
	routes, _ := nd.nl.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	for _, r := range routes {
		if r.Table == unix.RT_TABLE_LOCAL || (r.Table == unix.RT_TABLE_MAIN && len(r.MultiPath) == 0 && r.Type == unix.RTN_UNICAST) {
			continue
		}
		dst := "default"
		if r.Dst != nil {
			dst = r.Dst.String()
		}
		var extra []string
		switch r.Type {
		case unix.RTN_BLACKHOLE:
			extra = append(extra, "blackhole")
		case unix.RTN_UNREACHABLE:
			extra = append(extra, "unreachable")
		case unix.RTN_PROHIBIT:
			extra = append(extra, "prohibit")
		}
		if r.Gw != nil {
			extra = append(extra, "via "+r.Gw.String())
		}
		if r.LinkIndex != 0 {
			extra = append(extra, "dev "+names[r.LinkIndex])
		}
		for _, nh := range r.MultiPath {
			extra = append(extra, fmt.Sprintf("nexthop via %s dev %s weight %d", nh.Gw, names[nh.LinkIndex], nh.Hops+1))
		}
		if r.Src != nil {
			extra = append(extra, "src "+r.Src.String())
		}
		fmt.Fprintf(b, "   route %s %s table %d metric %d\n", dst, strings.Join(extra, " "), r.Table, r.Priority)
	}
	rules, _ := nd.nl.RuleList(netlink.FAMILY_ALL)
	for _, r := range rules {
		if r.Priority <= 0 || r.Priority >= 32766 {
			continue // the kernel's local, main and default rules
		}
		fam := "ip"
		if r.Family == netlink.FAMILY_V6 {
			fam = "ip6"
		}
		sel := []string{fmt.Sprintf("%s rule %d:", fam, r.Priority)}
		if r.Src != nil {
			sel = append(sel, "from "+r.Src.String())
		}
		if r.Dst != nil {
			sel = append(sel, "to "+r.Dst.String())
		}
		if r.IifName != "" {
			sel = append(sel, "iif "+r.IifName)
		}
		if r.OifName != "" {
			sel = append(sel, "oif "+r.OifName)
		}
		if r.Mark != 0 {
			m := fmt.Sprintf("fwmark %#x", r.Mark)
			if r.Mask != nil {
				m += fmt.Sprintf("/%#x", *r.Mask)
			}
			sel = append(sel, m)
		}
		fmt.Fprintf(b, "   %s table %d\n", strings.Join(sel, " "), r.Table)
	}
	qdiscs, _ := nd.nl.QdiscList(nil)
	for _, q := range qdiscs {
		a := q.Attrs()
		if a.Parent != netlink.HANDLE_ROOT || q.Type() == "noqueue" {
			continue
		}
		var what string
		switch q := q.(type) {
		case *netlink.Tbf:
			what = fmt.Sprintf("rate %d bit/s limit %d bytes", q.Rate*8, q.Limit)
		case *netlink.Netem:
			what = fmt.Sprintf("latency %dus jitter %dus loss %d/2^32 duplicate %d/2^32 reorder %d/2^32 corrupt %d/2^32 rate %d B/s",
				q.Latency, q.Jitter, q.Loss, q.Duplicate, q.ReorderProb, q.CorruptProb, q.Rate64)
		}
		fmt.Fprintf(b, "   qdisc %s dev %s %s\n", q.Type(), names[a.LinkIndex], what)
	}
}
