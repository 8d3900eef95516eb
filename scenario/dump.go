package scenario

import (
	"fmt"
	"sort"
	"strings"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DumpState returns a readable dump of every node: links, addresses, routes,
// neighbours, the nftables ruleset and forwarding. It reads through netlink;
// no external tool runs.
func (n *Network) DumpState() string {
	var b strings.Builder
	for _, nd := range n.order {
		nd.dump(&b)
	}
	return b.String()
}

func (nd *Node) dump(b *strings.Builder) {
	fmt.Fprintf(b, "== node %s (%s)\n", nd.name, nd.kind)
	if nd.nl == nil {
		b.WriteString("   (closed)\n")
		return
	}
	if err := nd.useNeighbours(); err != nil {
		fmt.Fprintf(b, "   %v\n", err)
	}
	links, err := nd.nl.LinkList()
	if err != nil {
		fmt.Fprintf(b, "   links: %v\n", err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	ports, _ := nd.BridgePorts()
	for _, l := range links {
		a := l.Attrs()
		master := ""
		if a.MasterIndex != 0 {
			master = " master " + names[a.MasterIndex]
		}
		fmt.Fprintf(b, "   link %d: %s %s state %s mtu %d %s%s rx %d tx %d\n", a.Index, a.Name, l.Type(), a.OperState, a.MTU, a.HardwareAddr, master, stat(a, true), stat(a, false))
		if d := linkDetail(l, ports, names); d != "" {
			fmt.Fprintf(b, "      %s\n", d)
		}
		addrs, _ := nd.nl.AddrList(l, netlink.FAMILY_ALL)
		for _, ad := range addrs {
			fmt.Fprintf(b, "      inet %s\n", ad.IPNet)
		}
	}
	dumpL2(b, nd, names)
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, _ := nd.nl.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		for _, r := range routes {
			dst := "default"
			if r.Dst != nil {
				dst = r.Dst.String()
			}
			gw := ""
			if r.Gw != nil {
				gw = " via " + r.Gw.String()
			}
			fmt.Fprintf(b, "   route %s%s dev %s\n", dst, gw, names[r.LinkIndex])
		}
		neighs, _ := nd.nl.NeighList(0, fam)
		for _, ne := range neighs {
			if ne.IP.IsLinkLocalMulticast() || ne.IP.IsMulticast() {
				continue
			}
			fmt.Fprintf(b, "   neigh %s dev %s lladdr %s %s\n", ne.IP, names[ne.LinkIndex], ne.HardwareAddr, neighState(ne.State))
		}
	}
	nd.dumpL3(b, names)
	if v, err := nd.Sysctl("net.ipv4.ip_forward"); err == nil {
		fmt.Fprintf(b, "   net.ipv4.ip_forward = %s\n", v)
	}
	b.WriteString(nftDump(int(nd.ns)))
}

// dumpL2 writes the bridge VLANs of every port and the forwarding
// entries of bridges and VXLANs (without multicast and the ports' own
// addresses).
func dumpL2(b *strings.Builder, nd *Node, names map[int]string) {
	if vlans, err := nd.nl.BridgeVlanList(); err == nil {
		idx := make([]int, 0, len(vlans))
		for i := range vlans {
			idx = append(idx, int(i))
		}
		sort.Ints(idx)
		for _, i := range idx {
			var parts []string
			for _, v := range vlans[int32(i)] {
				s := fmt.Sprint(v.Vid)
				if v.PortVID() {
					s += " pvid"
				}
				if v.EngressUntag() {
					s += " untagged"
				}
				parts = append(parts, s)
			}
			fmt.Fprintf(b, "   bridge vlan %s: %s\n", names[i], strings.Join(parts, ", "))
		}
	}
	fdb, _ := nd.nl.NeighList(0, unix.AF_BRIDGE)
	for _, e := range fdb {
		if len(e.HardwareAddr) == 6 && e.HardwareAddr[0]&1 != 0 || e.State&netlink.NUD_PERMANENT != 0 && e.IP == nil && e.Flags&netlink.NTF_MASTER == 0 {
			continue
		}
		line := fmt.Sprintf("   fdb %s dev %s", e.HardwareAddr, names[e.LinkIndex])
		if e.IP != nil {
			line += " dst " + e.IP.String()
		}
		if e.Vlan != 0 {
			line += fmt.Sprintf(" vlan %d", e.Vlan)
		}
		fmt.Fprintf(b, "%s %s\n", line, neighState(e.State))
	}
}

// linkDetail is what the link line leaves out of a VXLAN (its VNI,
// endpoints and port), a bridge (STP, VLAN filtering) and a bridge port
// (STP state, learning, flooding, isolation), or "".
func linkDetail(l netlink.Link, ports map[int]BridgePortInfo, names map[int]string) string {
	var parts []string
	switch l := l.(type) {
	case *netlink.Vxlan:
		parts = append(parts, fmt.Sprintf("vxlan id %d", l.VxlanId))
		if l.SrcAddr != nil {
			parts = append(parts, "local "+l.SrcAddr.String())
		}
		if l.Group != nil {
			parts = append(parts, "remote/group "+l.Group.String())
		}
		if l.VtepDevIndex != 0 {
			parts = append(parts, "dev "+names[l.VtepDevIndex])
		}
		port := l.Port
		if port == 0 {
			port = 4789
		}
		parts = append(parts, fmt.Sprintf("dstport %d learning %v", port, l.Learning))
	case *netlink.Bridge:
		parts = append(parts, fmt.Sprintf("bridge vlan_filtering %v", l.VlanFiltering != nil && *l.VlanFiltering))
	}
	if p, ok := ports[l.Attrs().Index]; ok {
		parts = append(parts, fmt.Sprintf("bridge port state %s learning %v flood %v isolated %v", p.State, p.Learning, p.Flood, p.Isolated))
	}
	return strings.Join(parts, "; ")
}

func stat(a *netlink.LinkAttrs, rx bool) uint64 {
	if a.Statistics == nil {
		return 0
	}
	if rx {
		return a.Statistics.RxPackets
	}
	return a.Statistics.TxPackets
}

// nftDump renders the nftables ruleset of a namespace compactly.
func nftDump(fd int) string {
	c, err := nftables.New(nftables.WithNetNSFd(fd), nftables.AsLasting())
	if err != nil {
		return fmt.Sprintf("   nftables: %v\n", err)
	}
	defer c.CloseLasting()
	var b strings.Builder
	tables, err := c.ListTables()
	if err != nil {
		return fmt.Sprintf("   nftables: %v\n", err)
	}
	for _, t := range tables {
		fmt.Fprintf(&b, "   nft table %s %s\n", familyName(t.Family), t.Name)
		chains, _ := c.ListChainsOfTableFamily(t.Family)
		for _, ch := range chains {
			if ch.Table.Name != t.Name {
				continue
			}
			fmt.Fprintf(&b, "      chain %s\n", ch.Name)
			rules, _ := c.GetRules(t, ch)
			for _, r := range rules {
				var parts []string
				for _, e := range r.Exprs {
					parts = append(parts, fmt.Sprintf("%T%+v", e, e))
				}
				fmt.Fprintf(&b, "         rule %s\n", strings.Join(parts, " "))
			}
		}
	}
	return b.String()
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyBridge:
		return "bridge"
	}
	return fmt.Sprint(int(f))
}

func neighState(s int) string {
	var out []string
	for _, st := range []struct {
		bit  int
		name string
	}{{netlink.NUD_INCOMPLETE, "INCOMPLETE"}, {netlink.NUD_REACHABLE, "REACHABLE"}, {netlink.NUD_STALE, "STALE"},
		{netlink.NUD_DELAY, "DELAY"}, {netlink.NUD_PROBE, "PROBE"}, {netlink.NUD_FAILED, "FAILED"},
		{netlink.NUD_NOARP, "NOARP"}, {netlink.NUD_PERMANENT, "PERMANENT"}} {
		if s&st.bit != 0 {
			out = append(out, st.name)
		}
	}
	if len(out) == 0 {
		return "NONE"
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// NeighState renders a neighbour state bitmask (NUD_*) as text.
func NeighState(s int) string { return neighState(s) }
