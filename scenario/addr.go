package scenario

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Addresses: the layer-2 segments of a scenario (links, and switches with
// their ports), their subnets, and the addresses of every interface, given
// or allocated. validator.addresses runs the passes in order; each pass
// below is one step of it.

// segment is one layer-2 domain: a point-to-point link or a switch with all
// its ports.
type segment struct {
	manual  bool // no automatic addresses
	vrf     bool // touches a VRF: may overlap other segments
	name    string
	call    string // how the user declares its subnets: Link("a", "b") or Switch("sw")
	subnets []netip.Prefix
	members []*planIface // interfaces that get addresses
	sw      *planNode
	// bridges are the switches of the domain, merged ones included.
	bridges []*planNode
	// mergedInto is the switch segment this one was merged into, when a
	// link joins two switches.
	mergedInto *segment
}

// root returns the segment a switch segment was merged into, shortening
// the chain as it goes (path halving), so that merging n switches costs
// about n steps.
func (v *validator) root(sg *segment) *segment {
	for sg.mergedInto != nil {
		v.steps++
		if up := sg.mergedInto.mergedInto; up != nil {
			sg.mergedInto = up
		}
		sg = sg.mergedInto
	}
	return sg
}

// addrPass is what the passes of validator.addresses share.
type addrPass struct {
	p     *plan
	segs  []*segment
	segOf map[*planNode]*segment // a switch's segment
	// explicit holds every address given explicitly, with its owner.
	explicit map[netip.Addr]string
	// vrfAddr marks addresses on segments touching a VRF, which may
	// repeat.
	vrfAddr map[netip.Addr]bool
	// none holds, per end, the addresses of the other end in the Addrs
	// calls that left it empty: it gets no address in their subnets.
	none map[*planIface][]netip.Addr
}

// owner names an interface as "node:iface".
func owner(i *planIface) string { return fmt.Sprintf("%s:%s", i.node.spec.name, i.name) }

// addresses resolves the segments and gives every interface its
// addresses: the explicit ones, checked against their segment's subnets
// and each other, then automatic ones from range4 and range6.
func (v *validator) addresses(p *plan, range4, range6 netip.Prefix) {
	ap := v.switchSegments(p)
	for _, pl := range p.links {
		v.linkAddrs(ap, pl)
	}
	var live []*segment
	for _, sg := range ap.segs {
		if sg.mergedInto == nil { // else merged into another switch
			live = append(live, sg)
		}
	}
	p.segments = live
	v.inSubnets(live)
	v.overlaps(live)
	p.ipv6 = p.ipv6 || usesIPv6(p, live)
	if len(v.errs) > 0 {
		return
	}
	v.allocate(ap, live, range4, range6)
}

// switchSegments starts the pass: a segment per switch, and the explicit
// addresses of switches' bridges and of interfaces declared with Iface.
func (v *validator) switchSegments(p *plan) *addrPass {
	ap := &addrPass{p: p, segOf: map[*planNode]*segment{}, explicit: map[netip.Addr]string{},
		vrfAddr: map[netip.Addr]bool{}, none: map[*planIface][]netip.Addr{}}
	for _, pn := range p.nodes {
		if pn.spec.kind == RoleSwitch {
			sg := &segment{name: fmt.Sprintf("switch %q", pn.spec.name), call: fmt.Sprintf("Switch(%q)", pn.spec.name), sw: pn, subnets: pn.segments, bridges: []*planNode{pn}}
			ap.segOf[pn] = sg
			ap.segs = append(ap.segs, sg)
		}
	}
	for _, pn := range p.nodes {
		for _, a := range pn.bridgeAddrs {
			ap.explicit[a.Addr()] = fmt.Sprintf("%s:%s", pn.spec.name, pn.bridge)
		}
	}
	v.virtualAddrs(p, ap.explicit)
	return ap
}

// linkAddrs takes a link's subnets and explicit addresses, and puts its
// ends in a segment: its own, or a switch's.
func (v *validator) linkAddrs(ap *addrPass, pl *planLink) {
	obj := fmt.Sprintf("link %s:%s—%s:%s", pl.a.node.spec.name, pl.a.name, pl.b.node.spec.name, pl.b.name)
	var linkSubnets []netip.Prefix
	for _, c := range pl.spec.subnets {
		if pfx, ok := v.prefix(obj+" subnet", c, true); ok {
			linkSubnets = append(linkSubnets, pfx)
		}
	}
	if pl.spec.noAddrs {
		v.add(obj, `has Addrs("", ""), which gives neither end an address`, "drop it; L2() makes a link without addresses")
	}
	v.endAddrs(ap, pl, obj, pl.a, pl.spec.addrsA, pl.spec.noneA)
	v.endAddrs(ap, pl, obj, pl.b, pl.spec.addrsB, pl.spec.noneB)
	v.linkSegment(ap, pl, obj, linkSubnets)
}

// endAddrs takes the explicit addresses of one end of a link, and
// records the other end's addresses an empty Addrs argument refused it.
func (v *validator) endAddrs(ap *addrPass, pl *planLink, obj string, i *planIface, addrs, none []string) {
	for _, c := range none {
		if a, err := netip.ParsePrefix(strings.TrimSpace(c)); err == nil {
			ap.none[i] = append(ap.none[i], a.Addr())
		}
	}
	if i.node.spec.kind == RoleSwitch && len(addrs) > 0 {
		v.add(obj, "the port on switch %q has an address; switch ports are layer 2", "address the switch with Switch(...).Addr", i.node.spec.name)
		return
	}
	for _, c := range addrs {
		a, ok := v.prefix(obj+" address", c, false)
		if !ok {
			continue
		}
		vrf := pl.a.inVRF() || pl.b.inVRF()
		if prev, dup := ap.explicit[a.Addr()]; dup && !(vrf && ap.vrfAddr[a.Addr()]) {
			v.add(obj, "address %s is already used by %s", "give every interface its own address", a.Addr(), prev)
			continue
		}
		ap.explicit[a.Addr()] = owner(i)
		ap.vrfAddr[a.Addr()] = vrf
		i.addrs = append(i.addrs, a)
	}
}

// linkSegment puts a link in its segment: two switches' segments merge, a
// link to a switch joins the switch's, any other link is a segment of its
// own.
func (v *validator) linkSegment(ap *addrPass, pl *planLink, obj string, linkSubnets []netip.Prefix) {
	swA, swB := pl.a.node.spec.kind == RoleSwitch, pl.b.node.spec.kind == RoleSwitch
	switch {
	case swA && swB:
		if len(linkSubnets) > 0 || len(pl.spec.addrsA)+len(pl.spec.addrsB) > 0 {
			v.add(obj, "joins two switches but has addresses", "remove Subnet/Addrs: a trunk between switches is layer 2")
		}
		// Merge the two switches into one layer-2 domain.
		sa, sb := v.root(ap.segOf[pl.a.node]), v.root(ap.segOf[pl.b.node])
		if sa != sb {
			sa.subnets = append(sa.subnets, sb.subnets...)
			sa.members = append(sa.members, sb.members...)
			sa.bridges = append(sa.bridges, sb.bridges...)
			sb.mergedInto = sa
			sb.sw = nil
		}
	case swA || swB:
		sw, host := pl.a.node, pl.b
		if swB {
			sw, host = pl.b.node, pl.a
		}
		if len(linkSubnets) > 0 {
			v.add(obj, "a link to switch %q has its own Subnet", "set the segment's subnet on the switch with Switch(...).Subnet", sw.spec.name)
		}
		sg := v.root(ap.segOf[sw])
		sg.members = append(sg.members, host)
	default:
		sg := &segment{name: obj, call: fmt.Sprintf("Link(%q, %q)", pl.spec.a, pl.spec.b), subnets: linkSubnets, vrf: pl.a.inVRF() || pl.b.inVRF()}
		// Ports of bridges and bonds, and links declared L2, carry no
		// address; a link touching one is addressed explicitly or not
		// at all, since its segment lies beyond the bridge.
		sg.manual = pl.a.l2 || pl.b.l2 || pl.spec.l2
		if pl.spec.l2 && len(pl.spec.addrsA)+len(pl.spec.addrsB)+len(linkSubnets) > 0 {
			v.add(obj, "is layer 2 only but has addresses or a subnet", "drop L2() or the addresses")
		}
		for _, e := range []*planIface{pl.a, pl.b} {
			if !e.l2 {
				sg.members = append(sg.members, e)
			}
		}
		ap.segs = append(ap.segs, sg)
	}
}

// inSubnets checks that every explicit address lies in its segment's
// subnet of that family, with its prefix length. Subnets come from
// Subnet, or else from the explicit addresses.
func (v *validator) inSubnets(live []*segment) {
	for _, sg := range live {
		for _, m := range sg.members {
			for _, a := range m.addrs {
				if sub, ok := containing(sg.subnets, a.Addr()); ok {
					if !sub.Contains(a.Addr()) {
						v.outsideSubnets(sg, a, owner(m))
					} else if a.Bits() != sub.Bits() {
						v.add(sg.name, "address %s of %s has prefix length /%d but the subnet is %s", fmt.Sprintf("write it as %s/%d", a.Addr(), sub.Bits()), a, owner(m), a.Bits(), sub)
					}
				} else {
					sg.subnets = append(sg.subnets, a.Masked())
				}
				if a.Addr() == a.Masked().Addr() && a.Addr().Is4() && a.Bits() < 31 {
					v.add(sg.name, "address %s of %s is the subnet's network address", "use a host address", a, owner(m))
				}
			}
		}
	}
}

// overlaps refuses overlapping subnets between different segments, which
// cannot be routed. Each subnet is compared with those of the segments
// before it, and named once, with one earlier subnet it overlaps.
func (v *validator) overlaps(live []*segment) {
	earlier := newPrefixSet(&v.steps)
	for _, sg := range live {
		if sg.vrf || sg.manual {
			// VRFs exist to hold overlapping segments; a segment
			// reaching a bridge or bond port is part of a larger
			// layer-2 domain (an overlay, a VLAN) that may span
			// several links.
			continue
		}
		for _, pb := range sg.subnets {
			if prev, ok := earlier.overlap(pb); ok {
				v.add(sg.name, "subnet %s overlaps %s of %s", "give each segment its own subnet", pb, prev.prefix, prev.seg.name)
			}
		}
		for _, pb := range sg.subnets {
			earlier.add(pb, sg)
		}
	}
}

// usesIPv6 reports whether automatic addresses include IPv6: some segment
// or switch already has an IPv6 subnet or address.
func usesIPv6(p *plan, live []*segment) bool {
	for _, sg := range live {
		for _, sub := range sg.subnets {
			if sub.Addr().Is6() {
				return true
			}
		}
	}
	for _, pn := range p.nodes {
		for _, a := range pn.bridgeAddrs {
			if a.Addr().Is6() {
				return true
			}
		}
	}
	return false
}

// subnetAllocator takes automatic subnets in increasing order, each after
// the last one taken, so they never overlap one another: only the subnets
// the segments have now can be in the way.
type subnetAllocator struct {
	inUse        *prefixSet
	next4, next6 netip.Addr
}

// take returns the next free subnet of the given length in rng, or false
// when rng is exhausted.
func (a *subnetAllocator) take(rng netip.Prefix, next *netip.Addr, bits int) (netip.Prefix, bool) {
	for {
		cand := netip.PrefixFrom(*next, bits).Masked()
		if !rng.Contains(cand.Addr()) {
			return netip.Prefix{}, false
		}
		*next = advance(cand, bits)
		if _, used := a.inUse.overlap(cand); !used {
			return cand, true
		}
	}
}

// allocate gives every segment that needs one an automatic subnet of
// each family it lacks (a /24 from range4; a /64 from range6 when the
// scenario uses IPv6), then addresses to the members without explicit
// ones. It stops at the first segment it cannot serve.
func (v *validator) allocate(ap *addrPass, live []*segment, range4, range6 netip.Prefix) {
	al := &subnetAllocator{inUse: newPrefixSet(&v.steps), next4: range4.Addr(), next6: range6.Addr()}
	for _, sg := range live {
		for _, s := range sg.subnets {
			al.inUse.add(s, sg)
		}
	}
	for _, sg := range live {
		if sg.manual || len(sg.members) == 0 && (sg.sw == nil || len(sg.sw.bridgeAddrs) == 0) {
			continue
		}
		if _, ok := sameFamily(sg.subnets, netip.IPv4Unspecified()); !ok && !hasV6Only(sg) {
			sub, ok := al.take(range4, &al.next4, 24)
			if !ok {
				v.add(sg.name, "no free /24 left in the range %s", "widen Spec.Range4", range4)
				return
			}
			sg.subnets = append(sg.subnets, sub)
		}
		if _, ok := sameFamily(sg.subnets, netip.IPv6Unspecified()); !ok && ap.p.ipv6 {
			sub, ok := al.take(range6, &al.next6, 64)
			if !ok {
				v.add(sg.name, "no free /64 left in the range %s", "widen Spec.Range6", range6)
				return
			}
			sg.subnets = append(sg.subnets, sub)
		}
		if !v.hostAddrs(ap, sg) {
			return
		}
	}
}

// hostAddrs gives the members of a segment their addresses in each of its
// subnets: an end with explicit addresses gets exactly those; an end an
// Addrs call left empty gets none in the other end's subnet. It reports
// false when a subnet has no room left.
func (v *validator) hostAddrs(ap *addrPass, sg *segment) bool {
	fixed := map[*planIface]bool{}
	for _, m := range sg.members {
		fixed[m] = len(m.addrs) > 0
	}
	for _, sub := range sg.subnets {
		// Addresses given explicitly anywhere, and those given here.
		given := map[netip.Addr]bool{}
		taken := func(a netip.Addr) bool {
			v.steps++
			_, dup := ap.explicit[a]
			return dup || given[a]
		}
		host := sub.Addr().Next() // skip the network address
		for _, m := range sg.members {
			if fixed[m] || slices.ContainsFunc(ap.none[m], sub.Contains) {
				continue
			}
			for taken(host) {
				host = host.Next()
			}
			if !sub.Contains(host) || (host.Is4() && host == lastAddr(sub)) {
				v.add(sg.name, "subnet %s has no room for %d interfaces", "use a larger subnet", sub, len(sg.members))
				return false
			}
			m.addrs = append(m.addrs, netip.PrefixFrom(host, sub.Bits()))
			given[host] = true
			host = host.Next()
		}
	}
	return true
}

// outsideSubnets refuses an explicit address outside every subnet of its
// family on its segment, naming those subnets and the declaration that
// would hold it too.
func (v *validator) outsideSubnets(sg *segment, a netip.Prefix, owner string) {
	var in []string
	decl := sg.call
	for _, s := range sg.subnets {
		if s.Addr().Is4() == a.Addr().Is4() {
			in = append(in, s.String())
			decl += fmt.Sprintf(".Subnet(%q)", s)
		}
	}
	decl += fmt.Sprintf(".Subnet(%q)", a.Masked())
	word := "subnet"
	if len(in) > 1 {
		word = "subnets"
	}
	list := strings.Join(in, ", ")
	v.add(sg.name, "address %s of %s is outside the %s %s", fmt.Sprintf("use an address inside %s, or declare every subnet of the segment: %s", list, decl), a, owner, word, list)
}

// hasV6Only reports whether a segment was given only IPv6 subnets explicitly,
// in which case it gets no automatic IPv4 subnet.
func hasV6Only(sg *segment) bool {
	_, v6 := sameFamily(sg.subnets, netip.IPv6Unspecified())
	_, v4 := sameFamily(sg.subnets, netip.IPv4Unspecified())
	return v6 && !v4
}

func advance(p netip.Prefix, bits int) netip.Addr {
	b := p.Addr().AsSlice()
	// Add 1 at bit position bits-1.
	i := (bits - 1) / 8
	inc := byte(1) << (7 - uint((bits-1)%8))
	for ; i >= 0; i-- {
		old := b[i]
		b[i] += inc
		if b[i] > old {
			break
		}
		inc = 1
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - uint(i%8))
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
