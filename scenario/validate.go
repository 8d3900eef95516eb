package scenario

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ValidationError is one mistake in a scenario definition.
type ValidationError struct {
	Scenario string // the scenario's name
	Object   string // what is wrong: `node "left"`, `link left—right`
	Problem  string
	Fix      string
}

// Error names the scenario, the object, the problem and the fix. Control
// characters and invalid UTF-8 in names come out escaped.
func (e *ValidationError) Error() string {
	msg := fmt.Sprintf("scenario %s: %s: %s", quoteName(e.Scenario), Printable(e.Object), Printable(e.Problem))
	if e.Fix != "" {
		msg += " (fix: " + e.Fix + ")"
	}
	return msg
}

// maxIfaceName is IFNAMSIZ minus the terminating NUL.
const maxIfaceName = 15

var (
	ifaceNameRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]*$`)
)

// Validate checks the definition and returns every mistake found, joined, or
// nil. It creates nothing.
func (s *Spec) Validate() error {
	_, err := s.plan()
	return err
}

// plan is a validated, fully resolved scenario: every interface has its
// kernel name and addresses, every route its gateway address.
type plan struct {
	spec  *Spec
	nodes []*planNode
	links []*planLink
	ipv6  bool
	// segments are the layer-2 domains of links and switches, with the
	// interfaces that have addresses on them (neighbours.go).
	segments []*segment
}

type planNode struct {
	spec        *NodeSpec
	ifaces      []*planIface
	byName      map[string]*planIface // ifaces by name
	bridge      string                // switch: the bridge's name
	bridgeAddrs []netip.Prefix        // switch: the bridge's addresses
	segments    []netip.Prefix        // switch: the segment's subnets
	routes      []planRoute
	rules       []planRule
	neighbours  []planNeighbour
	nat         []planNAT
	firewall    []planFirewall
	impair      []planImpair
	nextAuto    int // next automatic interface number
}

type planIface struct {
	node  *planNode
	name  string
	addrs []netip.Prefix
	link  *planLink  // veth ends: the link
	peer  *planIface // veth ends: the other end

	kind   LinkKind    // nil for veth ends
	spec   *IfaceSpec  // interfaces declared with Iface
	parent *planIface  // VLAN, macvlan, ipvlan: the parent; VXLAN: the underlay
	master *planIface  // the bridge, bond or VRF it is enslaved to
	port   *BridgePort // bridge ports with options
	down   bool        // left administratively down
	l2     bool        // a port of a bridge or bond: no address
	data   any         // resolved kind options (keys, addresses)
}

type planLink struct {
	spec *LinkSpec
	a, b *planIface
}

func (n *planNode) iface(name string) *planIface {
	return n.byName[name]
}

type validator struct {
	s    *Spec
	errs []error
	// explicit holds the interface names links give explicitly, by node
	// (built on first use), so that automatic names avoid them.
	explicit map[[2]string]bool
	// direct is set when validating one action for Network.Apply, outside
	// the scenario's list of steps.
	direct bool
	// steps counts the comparisons of the passes that relate one object to
	// many others (overlapping subnets, free subnets and addresses, merged
	// switches, bridge loops), so that a test can prove validation grows
	// linearly with the size of the scenario without timing it.
	steps int
}

func (v *validator) add(object, problem, fix string, args ...any) {
	v.errs = append(v.errs, &ValidationError{Scenario: v.s.Name, Object: object, Problem: fmt.Sprintf(problem, args...), Fix: fix})
}

func (s *Spec) plan() (*plan, error) {
	return s.planWith(&validator{s: s})
}

// planWith validates and resolves the scenario with v, whose counters the
// tests read.
func (s *Spec) planWith(v *validator) (*plan, error) {
	if s == nil {
		return nil, errors.New("vtest: nil scenario Spec (fix: create it with scenario.Define)")
	}
	p := &plan{spec: s, ipv6: s.IPv6}
	if strings.TrimSpace(s.Name) == "" {
		v.add("scenario", "has no name", "pass a name to Define")
	} else if strings.ContainsAny(s.Name, " \t\n/") {
		v.add("scenario", "name contains spaces or slashes", "use letters, digits, '-', '_' and '.'")
	} else {
		v.checkName("scenario", s.Name, MaxScenarioName)
	}
	range4, _ := v.prefix("Range4", orDefault(s.Range4, DefaultRange4), true)
	range6, _ := v.prefix("Range6", orDefault(s.Range6, DefaultRange6), true)

	byName := map[string]*planNode{}
	for i, ns := range s.nodes {
		obj := fmt.Sprintf("node %q", ns.name)
		switch {
		case strings.TrimSpace(ns.name) == "":
			v.add(fmt.Sprintf("node #%d", i+1), "has an empty name", "give every node a name")
			continue
		case strings.ContainsAny(ns.name, ": \t\n"):
			v.add(obj, "name contains ':' or spaces", "use a name without ':' or spaces (':' separates node and interface in Link)")
			continue
		case !v.checkName(fmt.Sprintf("node #%d", i+1), ns.name, MaxNodeName):
			continue
		case byName[ns.name] != nil:
			v.add(obj, "is defined twice", "give each node a unique name")
			continue
		}
		pn := &planNode{spec: ns}
		byName[ns.name] = pn
		p.nodes = append(p.nodes, pn)
		if ns.kind == KindSwitch {
			pn.bridge = ns.name
			if len(pn.bridge) > maxIfaceName || !ifaceNameRE.MatchString(pn.bridge) {
				pn.bridge = "br0"
			}
			for _, c := range ns.subnets {
				if pfx, ok := v.prefix(obj+" subnet", c, true); ok {
					pn.segments = append(pn.segments, pfx)
				}
			}
			for _, c := range ns.addrs {
				a, ok := v.prefix(obj+" address", c, false)
				if !ok {
					continue
				}
				pn.bridgeAddrs = append(pn.bridgeAddrs, a)
				if seg, found := sameFamily(pn.segments, a.Addr()); found && !seg.Contains(a.Addr()) {
					v.add(obj, "address %s is outside the switch's subnet %s", "use an address inside "+seg.String()+" or change Subnet", a, seg)
				} else if !found {
					pn.segments = append(pn.segments, a.Masked())
				}
			}
		} else if len(ns.addrs) > 0 || len(ns.subnets) > 0 {
			v.add(obj, "Addr and Subnet apply to switches only", "put addresses on links with Link(...).Addrs or Subnet")
		}
		for _, kv := range ns.Sysctls() {
			v.sysctl(obj, kv[0], kv[1])
		}
	}

	// Links: resolve ends and interface names.
	for _, ls := range s.links {
		if ls == nil {
			v.add("link", "is nil", "define links with Link")
			continue
		}
		obj := fmt.Sprintf("link %s—%s", ls.a, ls.b)
		na, nb := byName[ls.a.Node], byName[ls.b.Node]
		if na == nil || nb == nil {
			for _, e := range []Endpoint{ls.a, ls.b} {
				if byName[e.Node] == nil {
					v.add(obj, "node %q is not defined", "define it with Host, Router or Switch, or fix the name", e.Node)
				}
			}
			continue
		}
		if ls.delay < 0 || ls.delay > time.Minute {
			v.add(obj, "delay %v is out of range", "use a delay between 0 and 1m", ls.delay)
		}
		if ls.mtu < 0 || (ls.mtu > 0 && ls.mtu < 68) || ls.mtu > 65535 {
			v.add(obj, "MTU %d is out of range", "use 0 (default) or 68..65535", ls.mtu)
		}
		if ls.queues < 0 || ls.queues > 256 {
			v.add(obj, "%d queues is out of range", "use 0 (default: one) or 1..256", ls.queues)
		}
		if na == nb && na.spec.kind == KindSwitch {
			v.add(obj, "links a switch to itself (a loop on one bridge)", "link the switch to another node")
			continue
		}
		pl := &planLink{spec: ls}
		pl.a = v.iface(obj, na, ls.a.Interface)
		pl.b = v.iface(obj, nb, ls.b.Interface)
		if pl.a == nil || pl.b == nil {
			continue
		}
		pl.a.link, pl.b.link = pl, pl
		pl.a.peer, pl.b.peer = pl.b, pl.a
		p.links = append(p.links, pl)
	}
	// Bridge names must not clash with the switch's ports.
	for _, pn := range p.nodes {
		if pn.spec.kind == KindSwitch && pn.iface(pn.bridge) != nil {
			v.add(fmt.Sprintf("node %q", pn.spec.name), "a port is named like the bridge %q", "rename the port", pn.bridge)
		}
	}

	v.kinds(p)
	v.loops(p)
	v.addresses(p, range4, range6)
	v.kindAddrs(p)
	v.ipv6MTU(p)
	v.routes(p, byName)
	v.nat(p)
	v.natRules(p)
	v.firewall(p)
	v.impairments(p)
	v.items(p)
	v.neighbourTable(p)
	v.privateDirs(p)
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	return p, nil
}

// sysctlExists reports whether a net.* sysctl exists, by its file under
// /proc/sys (read only). A per-interface name is checked through the
// "default" entry, since the interface does not exist yet.
func sysctlExists(name string) bool {
	parts := strings.Split(name, ".")
	if _, err := os.Stat("/proc/sys/net"); err != nil {
		return true // no procfs to ask: the build will tell
	}
	if len(parts) == 5 && parts[2] == "conf" || len(parts) == 5 && parts[2] == "neigh" {
		if parts[3] != "all" && parts[3] != "default" {
			parts[3] = "default"
		}
	}
	_, err := os.Stat("/proc/sys/" + strings.Join(parts, "/"))
	return err == nil
}

// loops refuses links between bridges (switches, and bridges inside nodes)
// that form a cycle: without STP a loop floods every broadcast forever.
// A loop closed by a link between two bridges running STP is allowed.
func (v *validator) loops(p *plan) {
	parent := map[any]any{}
	find := func(n any) any {
		for parent[n] != nil && parent[n] != n {
			v.steps++
			if up := parent[parent[n]]; up != nil {
				parent[n] = up // path halving: later finds are short
			}
			n = parent[n]
		}
		return n
	}
	// bridgeOf returns the bridge an end belongs to (a switch node, or an
	// in-node bridge it is a port of), and whether that bridge runs STP.
	bridgeOf := func(i *planIface) (any, bool) {
		if i.node.spec.kind == KindSwitch {
			return i.node, false
		}
		if i.master != nil {
			if b, ok := i.master.kind.(Bridge); ok {
				return i.master, b.STP
			}
		}
		return nil, false
	}
	for _, pl := range p.links {
		a, stpA := bridgeOf(pl.a)
		b, stpB := bridgeOf(pl.b)
		if a == nil || b == nil {
			continue
		}
		ra, rb := find(a), find(b)
		if ra == rb {
			if stpA && stpB {
				continue
			}
			v.add(fmt.Sprintf("link %s:%s—%s:%s", pl.a.node.spec.name, pl.a.name, pl.b.node.spec.name, pl.b.name),
				"closes a loop between bridges without STP, so broadcasts would circulate forever",
				"remove one link of the loop, or use bridges inside nodes with Bridge{STP: true}")
			continue
		}
		parent[ra] = rb
	}
}

func (v *validator) iface(obj string, n *planNode, name string) *planIface {
	if name == "" {
		for {
			name = fmt.Sprintf("eth%d", n.nextAuto)
			n.nextAuto++
			if n.iface(name) == nil && !v.explicitIface(n.spec.name, name) {
				break
			}
		}
	}
	switch {
	case len(name) > maxIfaceName:
		v.add(obj, "interface name %q on node %q is %d bytes; Linux allows %d", "use a name of at most 15 bytes", name, n.spec.name, len(name), maxIfaceName)
		return nil
	case !ifaceNameRE.MatchString(name):
		v.add(obj, "interface name %q on node %q has characters Linux or vtest do not accept", "use letters, digits, '-', '_' and '.' (not first)", name, n.spec.name)
		return nil
	case name == "." || name == "..":
		v.add(obj, "interface name %q on node %q is not allowed by Linux", "choose another name", name, n.spec.name)
		return nil
	case name == "lo":
		v.add(obj, "interface name \"lo\" on node %q is the loopback device", "choose another name", n.spec.name)
		return nil
	case n.iface(name) != nil:
		v.add(obj, "interface %q is defined twice on node %q", "give each interface of a node a unique name", name, n.spec.name)
		return nil
	}
	i := &planIface{node: n, name: name}
	n.ifaces = append(n.ifaces, i)
	if n.byName == nil {
		n.byName = map[string]*planIface{}
	}
	n.byName[name] = i
	return i
}

// explicitIface reports whether some link names this interface on node
// explicitly, so that automatic names avoid it.
func (v *validator) explicitIface(node, name string) bool {
	if v.explicit == nil {
		v.explicit = map[[2]string]bool{}
		for _, l := range v.s.links {
			if l == nil {
				continue
			}
			for _, e := range []Endpoint{l.a, l.b} {
				if e.Interface != "" {
					v.explicit[[2]string{e.Node, e.Interface}] = true
				}
			}
		}
	}
	return v.explicit[[2]string{node, name}]
}

func (v *validator) prefix(obj, cidr string, network bool) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(strings.TrimSpace(cidr))
	if err != nil {
		v.add(obj, "%q is not a valid CIDR (%v)", "write it like 10.0.0.1/24 or fd00::1/64", cidr, err)
		return netip.Prefix{}, false
	}
	if network && p != p.Masked() {
		v.add(obj, "%q has host bits set", "use the network address "+p.Masked().String(), cidr)
		return p.Masked(), true
	}
	return p, true
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func sameFamily(ps []netip.Prefix, a netip.Addr) (netip.Prefix, bool) {
	for _, p := range ps {
		if p.Addr().Is4() == a.Is4() {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

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

func (v *validator) addresses(p *plan, range4, range6 netip.Prefix) {
	// Collect segments.
	var segs []*segment
	segOf := map[*planNode]*segment{}
	for _, pn := range p.nodes {
		if pn.spec.kind == KindSwitch {
			sg := &segment{name: fmt.Sprintf("switch %q", pn.spec.name), call: fmt.Sprintf("Switch(%q)", pn.spec.name), sw: pn, subnets: pn.segments, bridges: []*planNode{pn}}
			segOf[pn] = sg
			segs = append(segs, sg)
		}
	}
	explicit := map[netip.Addr]string{}
	owner := func(i *planIface) string { return fmt.Sprintf("%s:%s", i.node.spec.name, i.name) }
	for _, pn := range p.nodes {
		for _, a := range pn.bridgeAddrs {
			explicit[a.Addr()] = fmt.Sprintf("%s:%s", pn.spec.name, pn.bridge)
		}
	}
	v.virtualAddrs(p, explicit)
	vrfAddr := map[netip.Addr]bool{} // addresses on segments touching a VRF may repeat
	// none holds, per end, the addresses of the other end in the Addrs
	// calls that left it empty: it gets no address in their subnets.
	none := map[*planIface][]netip.Addr{}
	for _, pl := range p.links {
		obj := fmt.Sprintf("link %s:%s—%s:%s", pl.a.node.spec.name, pl.a.name, pl.b.node.spec.name, pl.b.name)
		swA, swB := pl.a.node.spec.kind == KindSwitch, pl.b.node.spec.kind == KindSwitch
		var linkSubnets []netip.Prefix
		for _, c := range pl.spec.subnets {
			if pfx, ok := v.prefix(obj+" subnet", c, true); ok {
				linkSubnets = append(linkSubnets, pfx)
			}
		}
		if pl.spec.noAddrs {
			v.add(obj, `has Addrs("", ""), which gives neither end an address`, "drop it; L2() makes a link without addresses")
		}
		for _, side := range []struct {
			i     *planIface
			addrs []string
			none  []string
		}{{pl.a, pl.spec.addrsA, pl.spec.noneA}, {pl.b, pl.spec.addrsB, pl.spec.noneB}} {
			for _, c := range side.none {
				if a, err := netip.ParsePrefix(strings.TrimSpace(c)); err == nil {
					none[side.i] = append(none[side.i], a.Addr())
				}
			}
			if side.i.node.spec.kind == KindSwitch && len(side.addrs) > 0 {
				v.add(obj, "the port on switch %q has an address; switch ports are layer 2", "address the switch with Switch(...).Addr", side.i.node.spec.name)
				continue
			}
			for _, c := range side.addrs {
				a, ok := v.prefix(obj+" address", c, false)
				if !ok {
					continue
				}
				vrf := pl.a.inVRF() || pl.b.inVRF()
				if prev, dup := explicit[a.Addr()]; dup && !(vrf && vrfAddr[a.Addr()]) {
					v.add(obj, "address %s is already used by %s", "give every interface its own address", a.Addr(), prev)
					continue
				}
				explicit[a.Addr()] = owner(side.i)
				vrfAddr[a.Addr()] = vrf
				side.i.addrs = append(side.i.addrs, a)
			}
		}
		switch {
		case swA && swB:
			if len(linkSubnets) > 0 || len(pl.spec.addrsA)+len(pl.spec.addrsB) > 0 {
				v.add(obj, "joins two switches but has addresses", "remove Subnet/Addrs: a trunk between switches is layer 2")
			}
			// Merge the two switches into one layer-2 domain.
			sa, sb := v.root(segOf[pl.a.node]), v.root(segOf[pl.b.node])
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
			sg := v.root(segOf[sw])
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
			segs = append(segs, sg)
		}
	}
	// Every explicit address must lie in its segment's subnet of that family.
	// Subnets come from Subnet, or else from the explicit addresses.
	var live []*segment
	for _, sg := range segs {
		if sg.mergedInto != nil {
			continue // merged into another switch
		}
		live = append(live, sg)
	}
	p.segments = live
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
	// Overlapping subnets between different segments cannot be routed.
	// Each subnet is compared with those of the segments before it, and
	// named once, with one earlier subnet it overlaps.
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
	// Automatic addresses. IPv6 is automatic when the scenario asks for it
	// or any segment already has an IPv6 subnet.
	for _, sg := range live {
		for _, sub := range sg.subnets {
			if sub.Addr().Is6() {
				p.ipv6 = true
			}
		}
	}
	for _, pn := range p.nodes {
		for _, a := range pn.bridgeAddrs {
			if a.Addr().Is6() {
				p.ipv6 = true
			}
		}
	}
	if len(v.errs) > 0 {
		return
	}
	// Automatic subnets are taken in increasing order, each after the
	// last one taken, so they never overlap one another: only the subnets
	// the segments have now can be in the way.
	inUse := newPrefixSet(&v.steps)
	for _, sg := range live {
		for _, s := range sg.subnets {
			inUse.add(s, sg)
		}
	}
	used := func(pfx netip.Prefix) bool {
		_, ok := inUse.overlap(pfx)
		return ok
	}
	next4, next6 := range4.Addr(), range6.Addr()
	alloc := func(rng netip.Prefix, next *netip.Addr, bits int) (netip.Prefix, bool) {
		for {
			cand := netip.PrefixFrom(*next, bits).Masked()
			if !rng.Contains(cand.Addr()) {
				return netip.Prefix{}, false
			}
			*next = advance(cand, bits)
			if !used(cand) {
				return cand, true
			}
		}
	}
	for _, sg := range live {
		if sg.manual || len(sg.members) == 0 && (sg.sw == nil || len(sg.sw.bridgeAddrs) == 0) {
			continue
		}
		if _, ok := sameFamily(sg.subnets, netip.IPv4Unspecified()); !ok && !hasV6Only(sg) {
			sub, ok := alloc(range4, &next4, 24)
			if !ok {
				v.add(sg.name, "no free /24 left in the range %s", "widen Spec.Range4", range4)
				return
			}
			sg.subnets = append(sg.subnets, sub)
		}
		if _, ok := sameFamily(sg.subnets, netip.IPv6Unspecified()); !ok && p.ipv6 {
			sub, ok := alloc(range6, &next6, 64)
			if !ok {
				v.add(sg.name, "no free /64 left in the range %s", "widen Spec.Range6", range6)
				return
			}
			sg.subnets = append(sg.subnets, sub)
		}
		// An end with explicit addresses gets exactly those; an end an
		// Addrs call left empty gets none in the other end's subnet.
		fixed := map[*planIface]bool{}
		for _, m := range sg.members {
			fixed[m] = len(m.addrs) > 0
		}
		for _, sub := range sg.subnets {
			// Addresses given explicitly anywhere, and those given here.
			given := map[netip.Addr]bool{}
			taken := func(a netip.Addr) bool {
				v.steps++
				_, dup := explicit[a]
				return dup || given[a]
			}
			host := sub.Addr().Next() // skip the network address
			for _, m := range sg.members {
				if fixed[m] || slices.ContainsFunc(none[m], sub.Contains) {
					continue
				}
				for taken(host) {
					host = host.Next()
				}
				if !sub.Contains(host) || (host.Is4() && host == lastAddr(sub)) {
					v.add(sg.name, "subnet %s has no room for %d interfaces", "use a larger subnet", sub, len(sg.members))
					return
				}
				m.addrs = append(m.addrs, netip.PrefixFrom(host, sub.Bits()))
				given[host] = true
				host = host.Next()
			}
		}
	}
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

func (n *planNode) connected() []netip.Prefix {
	var out []netip.Prefix
	for _, i := range n.ifaces {
		for _, a := range i.addrs {
			out = append(out, a.Masked())
		}
	}
	for _, a := range n.bridgeAddrs {
		out = append(out, a.Masked())
	}
	return out
}

func (n *planNode) allAddrs() []netip.Prefix {
	var out []netip.Prefix
	for _, i := range n.ifaces {
		out = append(out, i.addrs...)
	}
	return append(out, n.bridgeAddrs...)
}

func (n *planNode) hasAddr(a netip.Addr) bool {
	for _, p := range n.allAddrs() {
		if p.Addr() == a {
			return true
		}
	}
	return false
}

// addrsOn returns this node's addresses inside any of the subnets.
func (n *planNode) addrsOn(subnets []netip.Prefix) []netip.Addr {
	var out []netip.Addr
	for _, p := range n.allAddrs() {
		if inAny(subnets, p.Addr()) {
			out = append(out, p.Addr())
		}
	}
	return out
}

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func prefixList(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "it has no addresses"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func (v *validator) nat(p *plan) {
	for _, pn := range p.nodes {
		out, ok := pn.spec.MasqueradeInterface()
		if !ok {
			continue
		}
		obj := fmt.Sprintf("node %q", pn.spec.name)
		switch {
		case pn.spec.kind != KindRouter:
			v.add(obj, "masquerades but is a %s", "define it with Router: NAT needs forwarding", pn.spec.kind)
		case out == "":
			v.add(obj, "is a NAT router without an outside interface", "name the outside interface: Masquerade(\"wan\") and Link(\"router:wan\", ...)")
		case pn.iface(out) == nil:
			v.add(obj, "NAT outside interface %q does not exist on the router", "name one of its interfaces ("+pn.ifaceNames()+") or define Link(\""+pn.spec.name+":"+out+"\", ...)", out)
		}
	}
}

func (n *planNode) ifaceNames() string {
	var s []string
	for _, i := range n.ifaces {
		s = append(s, i.name)
	}
	if len(s) == 0 {
		return "it has none"
	}
	return strings.Join(s, ", ")
}
