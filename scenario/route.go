package scenario

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteSpec is a static route of a node. The zero Type is a unicast route:
// it needs Via, Dev or Nexthops. Blackhole, unreachable and prohibit routes
// take none of them.
//
// A gateway named by node is that node's address on the segment it shares
// with this one. A node sharing two segments with this one is ambiguous
// (the kernel would get two routes to one destination and refuse the second
// with "file exists"): Validate refuses it, naming both links. Pick one with
// Dev, use an address, or spread the traffic over both with Nexthops.
type RouteSpec struct {
	// Dst is "default" or a CIDR. "default" means the default route of
	// every family the route's gateways (or, without gateways, the
	// scenario) use.
	Dst string
	// Via is a gateway address, or the name of a node sharing a segment
	// with this one (its address on that segment is used).
	Via string
	// Dev is the output interface. Without Via the route is a device
	// route (the destination is on the link).
	Dev string
	// Nexthops makes a multipath route (ECMP, or weighted with Weight).
	// Via and Dev must then be empty.
	Nexthops []Nexthop
	// Type is unicast (the zero value), blackhole, unreachable or
	// prohibit.
	Type RouteType
	// Metric is the route's priority; lower wins. 0 is the kernel's
	// default.
	Metric int
	// Table is the routing table; 0 is the main table. Routes in other
	// tables are used through policy rules (NodeSpec.Rule).
	Table int
	// Src is the preferred source address: one of the node's own
	// addresses, of the destination's family.
	Src string
}

// Nexthop is one path of a multipath route.
type Nexthop struct {
	// Via is a gateway address or a neighbouring node's name; empty for a
	// device nexthop.
	Via string
	// Dev is the output interface; required when Via is empty.
	Dev string
	// Weight is the share of flows relative to the other nexthops,
	// 1..256; 0 means 1.
	Weight int
}

// RouteType is the kind of a route.
type RouteType int

const (
	// RouteUnicast forwards to a gateway or a link.
	RouteUnicast RouteType = iota
	// RouteBlackhole silently discards.
	RouteBlackhole
	// RouteUnreachable discards and answers ICMP host unreachable.
	RouteUnreachable
	// RouteProhibit discards and answers ICMP administratively
	// prohibited.
	RouteProhibit
)

// String returns "unicast", "blackhole", "unreachable" or "prohibit".
func (t RouteType) String() string {
	switch t {
	case RouteUnicast:
		return "unicast"
	case RouteBlackhole:
		return "blackhole"
	case RouteUnreachable:
		return "unreachable"
	case RouteProhibit:
		return "prohibit"
	}
	return fmt.Sprintf("RouteType(%d)", int(t))
}

// RuleSpec is a policy-routing rule: packets matching every set selector
// are looked up in Table.
type RuleSpec struct {
	// Priority orders the rules (lower first), 1..32765; 0 lets the kernel
	// choose.
	Priority int
	// From and To match the source and destination prefix (CIDR).
	From, To string
	// IIF and OIF match the input and output interface ("lo" for locally
	// generated packets as input).
	IIF, OIF string
	// Mark matches the firewall mark, under Mask if Mask is not 0.
	Mark, Mask uint32
	// Table is the table to look up: the main table (0 or 254) or a table
	// that has routes on this node.
	Table int
}

// NeighbourSpec is a static (permanent) neighbour entry: ARP for IPv4, NDP
// for IPv6.
type NeighbourSpec struct {
	Dev, IP, MAC string
}

// nodeL3 holds a node's policy rules and static neighbours.
type nodeL3 struct {
	rules      []RuleSpec
	neighbours []NeighbourSpec
}

// AddRoute adds a static route with every option of RouteSpec.
func (n *NodeSpec) AddRoute(r RouteSpec) *NodeSpec {
	n.routes = append(n.routes, r)
	return n
}

// Rule adds a policy-routing rule.
func (n *NodeSpec) Rule(r RuleSpec) *NodeSpec {
	n.l3.rules = append(n.l3.rules, r)
	return n
}

// Neighbor adds a permanent neighbour entry on interface dev: ip is at mac.
// An IPv6 address makes it an NDP entry.
func (n *NodeSpec) Neighbour(dev, ip, mac string) *NodeSpec {
	n.l3.neighbours = append(n.l3.neighbours, NeighbourSpec{Dev: dev, IP: ip, MAC: mac})
	return n
}

// Rules returns the node's policy rules.
func (n *NodeSpec) Rules() []RuleSpec { return n.l3.rules }

// Neighbors returns the node's static neighbour entries.
func (n *NodeSpec) Neighbours() []NeighbourSpec { return n.l3.neighbours }

// planRoute is one resolved route of one family.
type planRoute struct {
	dst    netip.Prefix
	via    netip.Addr // single path
	dev    string     // single path
	hops   []planHop  // multipath
	typ    RouteType
	metric int
	table  int
	src    netip.Addr
}

type planHop struct {
	via    netip.Addr
	dev    string
	weight int
}

type planRule struct {
	spec     RuleSpec
	from, to netip.Prefix
	v6       bool
	table    int
}

type planNeighbour struct {
	dev string
	ip  netip.Addr
	mac net.HardwareAddr
}

const (
	tableMain  = 254
	tableLocal = 255
)

// usesIPv6 reports whether the definition names any IPv6 address or prefix,
// which makes the scenario need the IPv6 feature.
func (s *Spec) usesIPv6() bool {
	is6 := func(str string) bool {
		str = strings.TrimSpace(str)
		if p, err := netip.ParsePrefix(str); err == nil {
			return p.Addr().Is6()
		}
		if a, err := netip.ParseAddr(str); err == nil {
			return a.Is6()
		}
		return false
	}
	any6 := func(ss ...string) bool { return slices.ContainsFunc(ss, is6) }
	for _, l := range s.links {
		if l != nil && (any6(l.subnets...) || any6(l.addrsA...) || any6(l.addrsB...)) {
			return true
		}
	}
	for _, n := range s.nodes {
		if n == nil {
			continue
		}
		if any6(n.addrs...) || any6(n.subnets...) {
			return true
		}
		for _, i := range n.ifaces {
			if i != nil && any6(i.addrs...) {
				return true
			}
		}
		for _, r := range n.routes {
			if any6(r.Dst, r.Via, r.Src) {
				return true
			}
			for _, h := range r.Nexthops {
				if is6(h.Via) {
					return true
				}
			}
		}
		for _, r := range n.l3.rules {
			if any6(r.From, r.To) {
				return true
			}
		}
		for _, nb := range n.l3.neighbours {
			if is6(nb.IP) {
				return true
			}
		}
		for _, r := range n.nat {
			if any6(r.To, r.Src, r.Dst) || r.Family == FamilyIPv6 {
				return true
			}
		}
		for _, r := range n.firewall {
			if any6(r.Src, r.Dst) || r.Family == FamilyIPv6 || r.Proto == "icmpv6" {
				return true
			}
		}
	}
	return false
}

// hasDev reports whether the node has an interface (or bridge) called name.
func (n *planNode) hasDev(name string) bool {
	return n.iface(name) != nil || (n.bridge != "" && n.bridge == name)
}

// devSubnets returns the subnets of one interface, or of all of them when
// dev is empty.
func (n *planNode) devSubnets(dev string) []netip.Prefix {
	if dev == "" {
		return n.connected()
	}
	var out []netip.Prefix
	if i := n.iface(dev); i != nil {
		for _, a := range i.addrs {
			out = append(out, a.Masked())
		}
	}
	if dev == n.bridge {
		for _, a := range n.bridgeAddrs {
			out = append(out, a.Masked())
		}
	}
	return out
}

// devOf returns the name of the node's interface whose subnet holds a.
func (n *planNode) devOf(a netip.Addr) string {
	for _, i := range n.ifaces {
		for _, p := range i.addrs {
			if p.Masked().Contains(a) {
				return i.name
			}
		}
	}
	for _, p := range n.bridgeAddrs {
		if p.Masked().Contains(a) {
			return n.bridge
		}
	}
	return ""
}

// linkName names the link of one of the node's interfaces for messages.
func (n *planNode) linkName(dev string) string {
	i := n.iface(dev)
	if i == nil || i.peer == nil {
		return n.spec.name + ":" + dev
	}
	return fmt.Sprintf("%s:%s—%s:%s", n.spec.name, i.name, i.peer.node.spec.name, i.peer.name)
}

// resolveHop turns one gateway (Via, Dev) into per-family hops. It reports
// problems through v and returns nil then.
func (v *validator) resolveHop(robj string, pn *planNode, byName map[string]*planNode, via, dev string, weight int, ipv6 bool) []planHop {
	if dev != "" && !pn.hasDev(dev) {
		v.add(robj, "interface %q does not exist on node %q", "name one of its interfaces ("+pn.ifaceNames()+")", dev, pn.spec.name)
		return nil
	}
	if weight < 0 || weight > 256 {
		v.add(robj, "weight %d is out of range", "use a weight between 1 and 256 (0 means 1)", weight)
		return nil
	}
	if weight == 0 {
		weight = 1
	}
	subnets := pn.devSubnets(dev)
	if via == "" {
		if dev == "" {
			v.add(robj, "has neither a gateway nor an interface", "set Via, Dev or both")
			return nil
		}
		// A device nexthop serves every family.
		hops := []planHop{{via: netip.IPv4Unspecified(), dev: dev, weight: weight}}
		if ipv6 {
			hops = append(hops, planHop{via: netip.IPv6Unspecified(), dev: dev, weight: weight})
		}
		return hops
	}
	var gws []netip.Addr
	if gw, err := netip.ParseAddr(via); err == nil {
		gws = []netip.Addr{gw}
	} else if g := byName[via]; g != nil {
		if g == pn {
			v.add(robj, "the gateway is the node itself", "route via a neighbouring node")
			return nil
		}
		gws = g.addrsOn(subnets)
		if len(gws) == 0 {
			if dev != "" {
				v.add(robj, "node %q shares no subnet with %q on %q", "link the two nodes on that interface, or name another interface", via, pn.spec.name, dev)
			} else {
				v.add(robj, "node %q shares no subnet with %q", "link the two nodes, or route via a node on a shared segment", via, pn.spec.name)
			}
			return nil
		}
		// One gateway address per family: a node reachable over two
		// links would give two routes to one destination.
		byFamily := map[bool][]netip.Addr{}
		for _, gw := range gws {
			byFamily[gw.Is4()] = append(byFamily[gw.Is4()], gw)
		}
		gws = gws[:0]
		for _, is4 := range []bool{true, false} {
			fam := byFamily[is4]
			if len(fam) == 0 {
				continue
			}
			devs := map[string]bool{}
			var where []string
			for _, gw := range fam {
				d := pn.devOf(gw)
				if !devs[d] {
					devs[d] = true
					where = append(where, fmt.Sprintf("%s at %s", pn.linkName(d), gw))
				}
			}
			if len(devs) > 1 {
				v.add(robj, "node %q is reachable over %d links (%s), so the gateway is ambiguous", "pick one link with Dev, name an address, or spread the route over both with Nexthops",
					via, len(devs), strings.Join(where, ", "))
				return nil
			}
			gws = append(gws, fam[0])
		}
	} else {
		v.add(robj, "gateway %q is neither an IP address nor a node", "write an address like 10.0.0.1 or the name of a neighbouring node", via)
		return nil
	}
	var hops []planHop
	for _, gw := range gws {
		if !inAny(subnets, gw) {
			where := fmt.Sprintf("any subnet of %q", pn.spec.name)
			if dev != "" {
				where = fmt.Sprintf("a subnet of %s:%s", pn.spec.name, dev)
			}
			v.add(robj, "gateway %s is not on %s (%s)", "use an address on one of the node's links", gw, where, prefixList(subnets))
			continue
		}
		if pn.hasAddr(gw) {
			v.add(robj, "gateway %s is the node's own address", "route via a neighbour's address", gw)
			continue
		}
		d := dev
		if d == "" {
			d = pn.devOf(gw)
		}
		hops = append(hops, planHop{via: gw, dev: d, weight: weight})
	}
	return hops
}

func (v *validator) routes(p *plan, byName map[string]*planNode) {
	for _, pn := range p.nodes {
		obj := fmt.Sprintf("node %q", pn.spec.name)
		type key struct {
			table, metric int
			dst           netip.Prefix
		}
		seen := map[key]string{}
		for _, r := range pn.spec.routes {
			robj := fmt.Sprintf("%s route %s", obj, r.Dst)
			switch {
			case len(r.Nexthops) > 0:
				robj += " multipath"
			case r.Type != RouteUnicast:
				robj += " " + r.Type.String()
			}
			if r.Via != "" {
				robj += " via " + r.Via
			}
			if r.Dev != "" {
				robj += " dev " + r.Dev
			}
			var dsts []netip.Prefix
			if r.Dst == "default" {
				dsts = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
			} else if d, ok := v.prefix(robj, r.Dst, true); ok {
				dsts = []netip.Prefix{d}
			} else {
				continue
			}
			table := r.Table
			switch {
			case table == 0:
				table = tableMain
			case table < 0 || table == tableLocal || int64(table) > 0xFFFFFFFF:
				v.add(robj, "table %d cannot hold vtest routes", "use a table between 1 and 4294967295 other than 255 (local), or 0 for main", table)
				continue
			}
			if r.Metric < 0 || int64(r.Metric) > 0xFFFFFFFF {
				v.add(robj, "metric %d is out of range", "use a metric between 0 and 4294967295", r.Metric)
				continue
			}
			var src netip.Addr
			if r.Src != "" {
				a, err := netip.ParseAddr(r.Src)
				switch {
				case err != nil:
					v.add(robj, "preferred source %q is not an IP address", "write an address of the node, like 10.0.0.1", r.Src)
					continue
				case !pn.hasAddr(a):
					v.add(robj, "preferred source %s is not an address of %q", "use one of its addresses", a, pn.spec.name)
					continue
				}
				src = a
			}
			// Gateways, per family.
			var hops []planHop
			multipath := len(r.Nexthops) > 0
			switch {
			case r.Type < RouteUnicast || r.Type > RouteProhibit:
				v.add(robj, "unknown route type %d", "use RouteUnicast, RouteBlackhole, RouteUnreachable or RouteProhibit", int(r.Type))
				continue
			case r.Type != RouteUnicast:
				if r.Via != "" || r.Dev != "" || multipath {
					v.add(robj, "a %s route has a gateway or an interface", "remove Via, Dev and Nexthops: a "+r.Type.String()+" route discards", r.Type)
					continue
				}
			case multipath:
				if r.Via != "" || r.Dev != "" {
					v.add(robj, "has both Via/Dev and Nexthops", "put every path in Nexthops")
					continue
				}
				bad := false
				for _, h := range r.Nexthops {
					hs := v.resolveHop(robj, pn, byName, h.Via, h.Dev, h.Weight, p.ipv6)
					bad = bad || hs == nil
					hops = append(hops, hs...)
				}
				if bad {
					continue
				}
			default:
				hops = v.resolveHop(robj, pn, byName, r.Via, r.Dev, 0, p.ipv6)
				if hops == nil {
					continue
				}
			}
			added := false
			for _, d := range dsts {
				if src.IsValid() && src.Is4() != d.Addr().Is4() {
					continue
				}
				var fam []planHop
				for _, h := range hops {
					if h.via.Is4() == d.Addr().Is4() {
						fam = append(fam, h)
					}
				}
				pr := planRoute{dst: d, typ: r.Type, metric: r.Metric, table: table, src: src}
				switch {
				case r.Type != RouteUnicast:
					if d.Addr().Is6() && !p.ipv6 && r.Dst == "default" {
						continue
					}
				case len(fam) == 0:
					continue
				case multipath:
					pr.hops = fam
				default:
					pr.via, pr.dev = fam[0].via, fam[0].dev
				}
				if pr.via.IsUnspecified() {
					pr.via = netip.Addr{} // device route
				}
				k := key{table, r.Metric, d}
				if prev, dup := seen[k]; dup {
					v.add(robj, "%s is already routed in table %d with metric %d by %s; the kernel would refuse it with \"file exists\"",
						"merge the two into one route with Nexthops, or give one a different Metric or Table", d, table, r.Metric, prev)
					continue
				}
				seen[k] = robj
				pn.routes = append(pn.routes, pr)
				added = true
			}
			if !added && len(v.errs) == 0 {
				if src.IsValid() {
					v.add(robj, "no gateway of the preferred source's address family", "use a preferred source of the destination's family")
				} else {
					v.add(robj, "no gateway of the destination's address family", "use a gateway of the same family as the destination")
				}
			}
		}
		v.rules(p, pn)
		v.neighbours(p, pn)
	}
}

// rules validates a node's policy rules, after its routes.
func (v *validator) rules(p *plan, pn *planNode) {
	tables := map[int]bool{tableMain: true}
	for _, r := range pn.routes {
		tables[r.table] = true
	}
	for i, r := range pn.spec.l3.rules {
		obj := fmt.Sprintf("node %q rule #%d", pn.spec.name, i+1)
		table := r.Table
		if table == 0 {
			table = tableMain
		}
		if !tables[table] {
			v.add(obj, "table %d has no routes on %q, so every lookup in it falls through", "add routes with AddRoute(RouteSpec{Table: "+fmt.Sprint(table)+", ...}), or point the rule at another table", table, pn.spec.name)
		}
		if r.Priority < 0 || r.Priority > 32765 {
			v.add(obj, "priority %d is out of range", "use 1..32765 (0, 32766 and 32767 hold the kernel's local, main and default rules), or 0 to let the kernel choose", r.Priority)
		}
		if r.Mask != 0 && r.Mark == 0 {
			v.add(obj, "has a mark mask but no mark", "set Mark too")
		}
		for _, dev := range []string{r.IIF, r.OIF} {
			if dev != "" && dev != "lo" && !pn.hasDev(dev) {
				v.add(obj, "interface %q does not exist on node %q", "name one of its interfaces ("+pn.ifaceNames()+")", dev, pn.spec.name)
			}
		}
		pr := planRule{spec: r, table: table}
		fam := map[bool]bool{}
		for _, sel := range []struct {
			s   string
			dst *netip.Prefix
		}{{r.From, &pr.from}, {r.To, &pr.to}} {
			if sel.s == "" {
				continue
			}
			if pfx, ok := v.prefix(obj, sel.s, true); ok {
				*sel.dst = pfx
				fam[pfx.Addr().Is6()] = true
			}
		}
		switch len(fam) {
		case 2:
			v.add(obj, "From and To are of different address families", "use prefixes of one family")
			continue
		case 1:
			pr.v6 = fam[true]
			pn.rules = append(pn.rules, pr)
		case 0:
			pn.rules = append(pn.rules, pr)
			if p.ipv6 {
				pr.v6 = true
				pn.rules = append(pn.rules, pr)
			}
		}
	}
}

func (v *validator) neighbours(p *plan, pn *planNode) {
	for _, nb := range pn.spec.l3.neighbours {
		obj := fmt.Sprintf("node %q neighbour %s", pn.spec.name, nb.IP)
		ip, err := netip.ParseAddr(nb.IP)
		if err != nil {
			v.add(obj, "%q is not an IP address", "write it like 10.0.0.9 or fd00::9", nb.IP)
			continue
		}
		mac, err := net.ParseMAC(nb.MAC)
		if err != nil || len(mac) != 6 {
			v.add(obj, "%q is not an Ethernet address", "write it like 02:00:00:00:00:09", nb.MAC)
			continue
		}
		if !pn.hasDev(nb.Dev) {
			v.add(obj, "interface %q does not exist on node %q", "name one of its interfaces ("+pn.ifaceNames()+")", nb.Dev, pn.spec.name)
			continue
		}
		if pn.hasAddr(ip) {
			v.add(obj, "%s is the node's own address", "give the neighbour's address", ip)
			continue
		}
		pn.neighbours = append(pn.neighbours, planNeighbour{dev: nb.Dev, ip: ip, mac: mac})
	}
}

// containing returns the subnet of a's family that holds a, or else the
// first subnet of a's family. A segment may have several subnets of one
// family (Subnet called more than once); an address must lie in one of them.
func containing(ps []netip.Prefix, a netip.Addr) (netip.Prefix, bool) {
	for _, p := range ps {
		if p.Contains(a) {
			return p, true
		}
	}
	return sameFamily(ps, a)
}

// addL3 installs a node's routes, policy rules and static neighbours.
func (nd *Node) addL3(pn *planNode) error {
	index := func(dev string) int {
		if i := nd.Interface(dev); i != nil {
			return i.Index
		}
		return 0
	}
	for _, r := range pn.routes {
		rt := &netlink.Route{Dst: ipNet(r.dst), Table: r.table, Priority: r.metric, Family: family(r.dst.Addr())}
		switch r.typ {
		case RouteBlackhole:
			rt.Type = unix.RTN_BLACKHOLE
		case RouteUnreachable:
			rt.Type = unix.RTN_UNREACHABLE
		case RouteProhibit:
			rt.Type = unix.RTN_PROHIBIT
		}
		if r.src.IsValid() {
			rt.Src = r.src.AsSlice()
		}
		if r.via.IsValid() {
			rt.Gw = r.via.AsSlice()
		}
		if r.dev != "" {
			rt.LinkIndex = index(r.dev)
			if !r.via.IsValid() {
				rt.Scope = netlink.SCOPE_LINK
			}
		}
		for _, h := range r.hops {
			nh := &netlink.NexthopInfo{LinkIndex: index(h.dev), Hops: h.weight - 1}
			if h.via.IsValid() && !h.via.IsUnspecified() {
				nh.Gw = h.via.AsSlice()
			}
			rt.MultiPath = append(rt.MultiPath, nh)
		}
		if err := nd.nl.RouteAdd(rt); err != nil {
			return fmt.Errorf("node %q: add route %s: %w", nd.name, r, err)
		}
	}
	for _, r := range pn.rules {
		rule := netlink.NewRule()
		rule.Table = r.table
		rule.Priority = r.spec.Priority
		if r.spec.Priority == 0 {
			rule.Priority = -1
		}
		rule.Family = netlink.FAMILY_V4
		if r.v6 {
			rule.Family = netlink.FAMILY_V6
		}
		if r.from.IsValid() {
			rule.Src = ipNet(r.from)
		}
		if r.to.IsValid() {
			rule.Dst = ipNet(r.to)
		}
		rule.IifName, rule.OifName = r.spec.IIF, r.spec.OIF
		if r.spec.Mark != 0 {
			rule.Mark = r.spec.Mark
			if r.spec.Mask != 0 {
				m := r.spec.Mask
				rule.Mask = &m
			}
		}
		if err := nd.nl.RuleAdd(rule); err != nil {
			return fmt.Errorf("node %q: add rule %s: %w", nd.name, rule, err)
		}
	}
	for _, nb := range pn.neighbours {
		ne := &netlink.Neigh{LinkIndex: index(nb.dev), State: netlink.NUD_PERMANENT, IP: nb.ip.AsSlice(), HardwareAddr: nb.mac, Family: family(nb.ip)}
		if err := nd.nl.NeighSet(ne); err != nil {
			return fmt.Errorf("node %q: add neighbour %s lladdr %s dev %s: %w", nd.name, nb.ip, nb.mac, nb.dev, err)
		}
	}
	return nil
}

func family(a netip.Addr) int {
	if a.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// String renders a planned route like ip route does.
func (r planRoute) String() string {
	var b strings.Builder
	if r.typ != RouteUnicast {
		b.WriteString(r.typ.String() + " ")
	}
	b.WriteString(r.dst.String())
	if r.via.IsValid() {
		b.WriteString(" via " + r.via.String())
	}
	if r.dev != "" {
		b.WriteString(" dev " + r.dev)
	}
	for _, h := range r.hops {
		b.WriteString(" nexthop")
		if h.via.IsValid() && !h.via.IsUnspecified() {
			b.WriteString(" via " + h.via.String())
		}
		fmt.Fprintf(&b, " dev %s weight %d", h.dev, h.weight)
	}
	if r.table != tableMain {
		fmt.Fprintf(&b, " table %d", r.table)
	}
	if r.metric != 0 {
		fmt.Fprintf(&b, " metric %d", r.metric)
	}
	if r.src.IsValid() {
		b.WriteString(" src " + r.src.String())
	}
	return b.String()
}
