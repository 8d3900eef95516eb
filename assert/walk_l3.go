package assert

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/scenario"
)

// The parts of the walk's diagnosis that name a node's L3 state: the
// routing table a lookup used (a VRF's), the reverse-path filter, a bond's
// members, the interfaces a dropped packet passes.

// routeTableOf names the routing table a lookup of a packet arriving on in
// uses: a VRF's when in is enslaved to one, else the main table.
func routeTableOf(nd *scenario.Node, in string) string {
	if in == "" {
		return "table main"
	}
	l, err := nd.Netlink().LinkByName(in)
	if err != nil || l.Attrs().MasterIndex == 0 {
		return "table main"
	}
	m, err := nd.Netlink().LinkByIndex(l.Attrs().MasterIndex)
	if err != nil {
		return "table main"
	}
	if vrf, ok := m.(*netlink.Vrf); ok {
		return fmt.Sprintf("VRF %s, table %d, in by %s", vrf.Attrs().Name, vrf.Table, in)
	}
	return "table main"
}

// rpFilterProblem says that the reverse-path filter of nd drops packets
// from src arriving on in.
func rpFilterProblem(nd *scenario.Node, in string, src netip.Addr) string {
	all, _ := nd.Sysctl("net.ipv4.conf.all.rp_filter")
	one, _ := nd.Sysctl("net.ipv4.conf." + in + ".rp_filter")
	back := ""
	if routes, err := nd.Netlink().RouteGet(src.AsSlice()); err == nil && len(routes) > 0 {
		back = fmt.Sprintf(": its route back to %s leaves by %s", src, ifaceName(nd, routes[0].LinkIndex))
	}
	return fmt.Sprintf("%s: reverse-path filter (rp_filter: %s %s, all %s) drops packets from %s arriving on %s%s",
		nd.Name(), in, strings.TrimSpace(one), strings.TrimSpace(all), src, in, back)
}

// bondMembers describes why a bond has no carrier: its members' states.
func bondMembers(nd *scenario.Node, index int) string {
	links, err := nd.Netlink().LinkList()
	if err != nil {
		return "its members are unreadable: " + err.Error()
	}
	var members []string
	up := 0
	for _, l := range links {
		a := l.Attrs()
		if a.MasterIndex != index {
			continue
		}
		switch {
		case a.Flags&net.FlagUp == 0:
			members = append(members, a.Name+" is down")
		case a.RawFlags&unix.IFF_LOWER_UP == 0:
			members = append(members, a.Name+" has no carrier")
		default:
			members = append(members, a.Name+" is up")
			up++
		}
	}
	switch {
	case len(members) == 0:
		return "it has no members"
	case up == 0:
		return "every member is down (" + strings.Join(members, ", ") + ")"
	}
	return "members: " + strings.Join(members, ", ")
}

// packetIfaces names the interfaces the walk's packet passes at a hop,
// for a firewall verdict there.
func packetIfaces(h WalkHop) string {
	var p []string
	if h.In != "" {
		p = append(p, "in "+h.In)
	}
	if h.out != "" {
		p = append(p, "out "+h.out)
	}
	if len(p) == 0 {
		return ""
	}
	return "; the packet passes " + strings.Join(p, ", ")
}

// echoSize is the size of an ICMP echo with payload bytes, IP header
// included.
func echoSize(dst netip.Addr, payload int) int {
	if dst.Is6() {
		return payload + 8 + 40
	}
	return payload + 8 + 20
}

// rpFilters reports whether the reverse-path filter of nd drops packets
// from src arriving on in: it is on (the larger of all's and in's value),
// and the route back to src leaves by another interface (strict, 1) or
// there is none (loose, 2).
func rpFilters(nd *scenario.Node, in string, src netip.Addr) bool {
	if !src.IsValid() || !src.Is4() {
		return false
	}
	all, _ := nd.Sysctl("net.ipv4.conf.all.rp_filter")
	one, _ := nd.Sysctl("net.ipv4.conf." + in + ".rp_filter")
	mode := max(strings.TrimSpace(all), strings.TrimSpace(one))
	if mode != "1" && mode != "2" {
		return false
	}
	routes, err := nd.Netlink().RouteGet(src.AsSlice())
	if err != nil || len(routes) == 0 {
		return true
	}
	return mode == "1" && ifaceName(nd, routes[0].LinkIndex) != in
}
