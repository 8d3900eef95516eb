package scenario

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// LinkKind is the kind of a node's interface: a veth end (what Link
// creates) or one of the kinds a node declares with Iface: Bridge, VLAN,
// Macvlan, IPVlan, VXLAN, Bond, VRF, WireGuard, Dummy.
//
// Each kind lives in one file (kind_<name>.go) and says, through the
// methods of this interface, how it is validated, which kernel feature it
// needs, how it is created in its node's namespace and how it is drawn.
// Optional interfaces add readiness (readyWaiter), configuration of the
// interfaces enslaved to it (portConfigurer) and configuration once every
// interface of the scenario exists (configurer). Role interfaces say what
// the rest of the package must know of a kind without naming it: it holds
// other interfaces (master), switches frames between them (switcher),
// comes up without its underlay (underlayFree), cannot carry a macvlan or
// ipvlan (noUppers), or frames packets other than as Ethernet (framer).
// Adding a kind is therefore one file: the kind, its feature record
// (defineFeature) and the role methods it has.
type LinkKind interface {
	// kindName is the kernel's name of the kind ("vlan", "vxlan", …).
	kindName() string
	// feature is the kernel feature the kind needs, "" for none.
	feature() Feature
	// check validates the kind's options and resolves the interfaces it
	// refers to. It creates nothing.
	check(c *kindCheck)
	// newLink returns the link to add. b.attrs holds the name, MTU and
	// the namespace to create it in; b.parent is set for kinds with a
	// parent.
	newLink(b *kindBuild) (netlink.Link, error)
	// describe is a short text for graphs and listings: "vlan 10 on eth0".
	describe(i *IfaceSpec) string
}

// portConfigurer is a kind that configures interfaces enslaved to it
// (a bridge: VLANs, PVID, learning, flooding) once they are enslaved.
type portConfigurer interface {
	configurePort(b *kindBuild, port *planIface, link netlink.Link) error
}

// addrChecker is a kind with checks that need the allocated addresses
// (tunnel endpoints); they run after allocation, still before anything
// exists.
type addrChecker interface {
	checkAddrs(c *kindCheck)
}

// postCreator is a kind with settings to make right after the link exists,
// before anything is enslaved to it (STP, which netlink.Bridge lacks).
type postCreator interface {
	postCreate(b *kindBuild, link netlink.Link) error
}

// readyWaiter is a kind that is ready later than when it is up (a bridge
// running STP: until its ports leave the listening and learning states).
type readyWaiter interface {
	waitReady(ctx context.Context, b *kindBuild) error
}

// configurer is a kind that needs more configuration once every interface
// of the scenario exists (static FDB entries, WireGuard peers).
type configurer interface {
	configure(b *kindBuild, link netlink.Link) error
}

// IfaceSpec is an interface a node declares with Iface: a bridge, a VLAN,
// a tunnel, a bond… (veth ends come from Link).
type IfaceSpec struct {
	node    *NodeSpec
	name    string
	kind    LinkKind
	addrs   []string
	mtu     int
	members []string
	ports   []portSpec
}

type portSpec struct {
	name string
	opts BridgePort
}

// Iface declares an interface of kind k called name in the node, e.g.
//
//	s.Host("a").Iface("eth0.10", scenario.VLAN{Parent: "eth0", ID: 10}).Addrs("10.0.10.1/24")
//
// Interfaces declared this way get only the addresses given with Addrs
// (none is allocated automatically).
func (n *NodeSpec) Iface(name string, k LinkKind) *IfaceSpec {
	i := &IfaceSpec{node: n, name: name, kind: k}
	n.ifaces = append(n.ifaces, i)
	return i
}

// Down leaves interfaces of the node administratively down (for example one
// member of a bond, to show the bond keeps working without it).
func (n *NodeSpec) Down(ifaces ...string) *NodeSpec {
	n.down = append(n.down, ifaces...)
	return n
}

// Ifaces returns the interfaces the node declared with Iface.
func (n *NodeSpec) Ifaces() []*IfaceSpec { return n.ifaces }

// Name returns the interface's name.
func (i *IfaceSpec) Name() string { return i.name }

// Kind returns the kernel name of the interface's kind ("vxlan", "bond", …).
func (i *IfaceSpec) Kind() string {
	if i.kind == nil {
		return ""
	}
	return i.kind.kindName()
}

// Describe returns a short description: kind and main options.
func (i *IfaceSpec) Describe() string {
	if i.kind == nil {
		return "no kind"
	}
	return i.kind.describe(i)
}

// Related returns the names of the interfaces this one is built on or
// holds: its parent or underlay, and its members or ports.
func (i *IfaceSpec) Related() []string {
	var out []string
	if p, ok := i.kind.(interface{ parentName() string }); ok && p.parentName() != "" {
		out = append(out, p.parentName())
	}
	out = append(out, i.members...)
	for _, p := range i.ports {
		out = append(out, p.name)
	}
	return out
}

// Upper reports whether the interface is stacked on a parent whose wire it
// shares (a macvlan, an ipvlan), and names the parent: "iface" of the same
// node or "node:iface".
func (i *IfaceSpec) Upper() (parent string, ok bool) {
	u, ok := i.kind.(upper)
	if !ok {
		return "", false
	}
	return u.parentName(), true
}

// SiblingMode names the mode of l, the built link of an interface that is
// Upper (its declared mode for a nil l), and reports whether frames pass in
// it between the interface and its siblings on one parent ("bridge" for a
// macvlan, "l2" for an ipvlan). "", false for an interface that is not
// Upper.
func (i *IfaceSpec) SiblingMode(l netlink.Link) (mode string, passes bool) {
	u, ok := i.kind.(upper)
	if !ok {
		return "", false
	}
	return u.siblingMode(l)
}

// Peer returns the "node:iface" at the other end of a tunnel declared with
// a peer (WireGuard), or "".
func (i *IfaceSpec) Peer() string {
	if p, ok := i.kind.(interface{ peerName() string }); ok {
		return p.peerName()
	}
	return ""
}

// Addrs gives the interface addresses in CIDR form.
func (i *IfaceSpec) Addrs(cidrs ...string) *IfaceSpec {
	i.addrs = append(i.addrs, cidrs...)
	return i
}

// MTU sets the interface's MTU.
func (i *IfaceSpec) MTU(mtu int) *IfaceSpec {
	i.mtu = mtu
	return i
}

// Members enslaves interfaces of the same node to this one: the links of a
// Bond, the interfaces of a VRF, or ports of a Bridge with default options.
func (i *IfaceSpec) Members(names ...string) *IfaceSpec {
	i.members = append(i.members, names...)
	return i
}

// Port makes an interface of the same node a port of this Bridge, with
// per-port options (VLANs, learning, flooding, isolation).
func (i *IfaceSpec) Port(name string, opts BridgePort) *IfaceSpec {
	i.ports = append(i.ports, portSpec{name: name, opts: opts})
	return i
}

// kindCheck is what a kind's check sees: the validator, the node and the
// interface being checked.
type kindCheck struct {
	v     *validator
	p     *plan
	node  *planNode
	iface *planIface
	obj   string
}

// fail records a validation error about the interface.
func (c *kindCheck) fail(problem, fix string, args ...any) {
	c.v.add(c.obj, problem, fix, args...)
}

// local resolves the name of another interface of the same node; what
// says what it is for ("parent", "underlay").
func (c *kindCheck) local(name, what string) *planIface {
	if name == "" {
		c.fail("has no %s", "name the "+what+" interface", what)
		return nil
	}
	if i := c.node.iface(name); i != nil && i != c.iface {
		return i
	}
	c.fail("%s %q is not an interface of node %q", "name one of its interfaces ("+c.node.ifaceNames()+")", what, name, c.node.spec.name)
	return nil
}

// ref resolves "iface" (same node) or "node:iface" (another node).
func (c *kindCheck) ref(s, what string) *planIface {
	node, name, found := strings.Cut(s, ":")
	if !found {
		return c.local(s, what)
	}
	var pn *planNode
	for _, n := range c.p.nodes {
		if n.spec.name == node {
			pn = n
		}
	}
	if pn == nil {
		c.fail("%s %q names node %q, which is not defined", "define the node or fix the name", what, s, node)
		return nil
	}
	if i := pn.iface(name); i != nil {
		return i
	}
	c.fail("%s %q: node %q has no interface %q", "name one of its interfaces ("+pn.ifaceNames()+")", what, s, node, name)
	return nil
}

// addr parses an IP address option.
func (c *kindCheck) addr(s, what string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		c.fail("%s %q is not an IP address", "write it like 10.0.0.1 or fd00::1", what, s)
		return netip.Addr{}, false
	}
	return a, true
}

// kindBuild is what a kind's newLink, configure and configurePort see.
type kindBuild struct {
	n      *Network
	node   *Node // the node the interface lives in
	iface  *planIface
	attrs  netlink.LinkAttrs
	parent netlink.Link // the parent link, in the namespace it lives in
	// on is the handle to create the link with: the parent's node for
	// kinds whose parent lives in another node, else the node's.
	on *Node
}

// link returns a built interface's netlink link, read from its namespace.
func (b *kindBuild) link(i *planIface) (netlink.Link, error) {
	nd := b.n.nodes[i.node.spec.name]
	l, err := nd.nl.LinkByName(i.name)
	if err != nil {
		return nil, fmt.Errorf("node %q: find %q: %w", nd.name, i.name, err)
	}
	return l, nil
}

// lowerUp reports whether a link can carry traffic: operationally up, or
// in state unknown with a carrier (dummy, WireGuard, VXLAN do not report
// an operational state).
func lowerUp(l netlink.Link) bool {
	a := l.Attrs()
	return a.OperState == netlink.OperUp || (a.OperState == netlink.OperUnknown && a.RawFlags&unix.IFF_LOWER_UP != 0)
}

// kinds resolves the interfaces nodes declared with Iface: names, members
// and ports, administratively-down interfaces, each kind's own options, and
// refuses cycles (a bond enslaved to itself through a VLAN…). It runs after
// the links' interfaces are named, before addresses are allocated.
func (v *validator) kinds(p *plan) {
	var virtual []*planIface
	for _, pn := range p.nodes {
		for _, is := range pn.spec.ifaces {
			obj := fmt.Sprintf("node %q interface %q", pn.spec.name, is.name)
			switch {
			case pn.spec.kind == RoleSwitch:
				v.add(obj, "a switch holds exactly one bridge; it cannot declare interfaces", "declare the interfaces on a Host or Router (a Bridge interface makes a host a switch too)")
				continue
			case is.kind == nil:
				v.add(obj, "has no kind", "pass a kind: scenario.VLAN{…}, scenario.Bridge{…}, …")
				continue
			case is.name == "":
				v.add(obj, "has no name", "name the interface")
				continue
			case reflect.ValueOf(is.kind).Kind() == reflect.Pointer:
				v.add(obj, "kind %T is a pointer", "pass the kind by value: scenario.VLAN{…}, not &scenario.VLAN{…}", is.kind)
				continue
			}
			v.checkMTU(obj, is.mtu)
			i := v.iface(obj, pn, is.name)
			if i == nil {
				continue
			}
			i.kind, i.spec = is.kind, is
			virtual = append(virtual, i)
		}
	}
	// Members and ports.
	for _, i := range virtual {
		obj := fmt.Sprintf("node %q interface %q", i.node.spec.name, i.name)
		if len(i.spec.ports) > 0 {
			if _, ok := i.kind.(portConfigurer); !ok {
				v.add(obj, "has bridge ports but is a %s", "use Members for bonds and VRFs; Port is for bridges", i.kind.kindName())
			}
		}
		if len(i.spec.members) > 0 {
			if _, ok := i.kind.(master); !ok {
				v.add(obj, "has members but is a %s", "only a Bridge, Bond or VRF holds other interfaces", i.kind.kindName())
				continue
			}
		}
		enslave := func(name string, opts *BridgePort) {
			m := i.node.iface(name)
			switch {
			case m == nil:
				v.add(obj, "member %q is not an interface of node %q", "name one of its interfaces ("+i.node.ifaceNames()+")", name, i.node.spec.name)
			case m == i:
				v.add(obj, "is its own member", "enslave other interfaces")
			case m.master != nil:
				v.add(obj, "member %q is already enslaved to %q", "enslave each interface to one bridge, bond or VRF", name, m.master.name)
			default:
				m.master, m.port = i, opts
			}
		}
		for _, name := range i.spec.members {
			enslave(name, nil)
		}
		for _, ps := range i.spec.ports {
			enslave(ps.name, &ps.opts)
		}
	}
	for _, pn := range p.nodes {
		for _, name := range pn.spec.down {
			if i := pn.iface(name); i != nil {
				i.down = true
			} else {
				v.downUnknown(pn, name)
			}
		}
	}
	// Layer-2 members carry no addresses of their own.
	for _, pn := range p.nodes {
		for _, i := range pn.ifaces {
			if i.master != nil && isL2Master(i.master.kind) {
				i.l2 = true
				if i.spec != nil && len(i.spec.addrs) > 0 || i.link != nil && len(i.link.spec.addrsOf(i)) > 0 {
					v.add(fmt.Sprintf("node %q interface %q", pn.spec.name, i.name), "is a port of %s %q and has an address; its addresses belong on %q", "move the address to "+i.master.name, i.master.kind.kindName(), i.master.name, i.master.name)
				}
			}
		}
	}
	for _, i := range virtual {
		c := &kindCheck{v: v, p: p, node: i.node, iface: i, obj: fmt.Sprintf("node %q interface %q (%s)", i.node.spec.name, i.name, i.kind.kindName())}
		i.kind.check(c)
	}
	// Cycles through parents and masters.
	for _, i := range virtual {
		seen := map[*planIface]bool{}
		for j := i; j != nil; j = j.dependsOn() {
			if seen[j] {
				v.add(fmt.Sprintf("node %q interface %q", i.node.spec.name, i.name), "depends on itself through its parent or master", "break the cycle")
				break
			}
			seen[j] = true
		}
	}
}

// kindAddrs runs the checks of kinds that need allocated addresses.
func (v *validator) kindAddrs(p *plan) {
	if len(v.errs) > 0 {
		return // addresses may be missing
	}
	for _, pn := range p.nodes {
		for _, i := range pn.ifaces {
			if ac, ok := i.kind.(addrChecker); ok {
				ac.checkAddrs(&kindCheck{v: v, p: p, node: pn, iface: i, obj: fmt.Sprintf("node %q interface %q (%s)", pn.spec.name, i.name, i.kind.kindName())})
			}
		}
	}
}

// kindOf returns the interface's kind; nil for veth ends and for a
// switch's bridge (i nil).
func (i *planIface) kindOf() LinkKind {
	if i == nil {
		return nil
	}
	return i.kind
}

// dependsOn returns the interface that must exist before this one: its
// parent, or else its master.
func (i *planIface) dependsOn() *planIface {
	if i.parent != nil {
		return i.parent
	}
	return i.master
}

// addrsOf returns the explicit addresses a link gives the end i.
func (l *LinkSpec) addrsOf(i *planIface) []string {
	if i.link != nil && i.link.a == i {
		return l.addrsA
	}
	return l.addrsB
}

// inVRF reports whether the interface is enslaved to a VRF: a master that
// keeps its members' layer-3 role.
func (i *planIface) inVRF() bool {
	if i.master == nil {
		return false
	}
	m, ok := i.master.kind.(master)
	return ok && !m.enslavesL2()
}

// expectUp reports whether the interface should become able to carry
// traffic: not administratively down, and neither a bridge or bond without
// a working port, nor built on an interface that stays down.
func (i *planIface) expectUp() bool {
	if i.down {
		return false
	}
	if i.peer != nil && i.peer.down {
		return false
	}
	if i.parent != nil && !i.parent.expectUp() {
		if _, free := i.kind.(underlayFree); !free {
			return false
		}
	}
	if isL2Master(i.kind) {
		for _, m := range i.node.ifaces {
			if m.master == i && m.expectUp() {
				return true
			}
		}
		return false
	}
	return true
}

// virtualAddrs parses the explicit addresses of interfaces declared with
// Iface. They take part in duplicate detection and routing, not in
// automatic allocation.
func (v *validator) virtualAddrs(p *plan, explicit map[netip.Addr]string) {
	for _, pn := range p.nodes {
		for _, i := range pn.ifaces {
			if i.spec == nil {
				continue
			}
			obj := fmt.Sprintf("node %q interface %q", pn.spec.name, i.name)
			for _, c := range i.spec.addrs {
				a, ok := v.prefix(obj+" address", c, false)
				if !ok {
					continue
				}
				if prev, dup := explicit[a.Addr()]; dup && !i.inVRF() {
					v.add(obj, "address %s is already used by %s", "give every interface its own address", a.Addr(), prev)
					continue
				}
				if a.Addr().Is4() && a.Bits() < 31 && a.Addr() == a.Masked().Addr() {
					v.add(obj, "address %s is the subnet's network address", "use a host address", a)
				}
				if a.Addr().Is6() {
					p.ipv6 = true
				}
				explicit[a.Addr()] = pn.spec.name + ":" + i.name
				i.addrs = append(i.addrs, a)
			}
		}
	}
}

// createLinks creates every link and every declared interface, each once
// what it depends on exists: masters before their members, parents before
// their children, both ends' masters before a veth pair.
func (n *Network) createLinks(ctx context.Context) error {
	type unit struct {
		link  *planLink
		iface *planIface
	}
	var pending []unit
	for _, pl := range n.plan.links {
		pending = append(pending, unit{link: pl})
	}
	for _, pn := range n.plan.nodes {
		for _, i := range pn.ifaces {
			if i.kind != nil {
				pending = append(pending, unit{iface: i})
			}
		}
	}
	done := map[*planIface]bool{}
	ready := func(i *planIface) bool {
		return i == nil || done[i]
	}
	for len(pending) > 0 {
		var next []unit
		for _, u := range pending {
			if err := ctx.Err(); err != nil {
				return err
			}
			if u.link != nil {
				if !ready(u.link.a.master) || !ready(u.link.b.master) {
					next = append(next, u)
					continue
				}
				if err := n.createLink(u.link); err != nil {
					return err
				}
				done[u.link.a], done[u.link.b] = true, true
				continue
			}
			if !ready(u.iface.master) || !ready(u.iface.parent) {
				next = append(next, u)
				continue
			}
			if err := n.createIface(u.iface); err != nil {
				return err
			}
			done[u.iface] = true
		}
		if len(next) == len(pending) {
			return fmt.Errorf("interfaces depend on each other in a cycle: %s", pending[0].iface.name)
		}
		pending = next
	}
	// Once everything exists: FDB entries, tunnel peers.
	for _, pn := range n.plan.nodes {
		nd := n.nodes[pn.spec.name]
		for _, i := range pn.ifaces {
			c, ok := i.kind.(configurer)
			if !ok {
				continue
			}
			b := &kindBuild{n: n, node: nd, on: nd, iface: i}
			l, err := b.link(i)
			if err != nil {
				return err
			}
			if err := c.configure(b, l); err != nil {
				return fmt.Errorf("node %q: configure %s %q: %w", nd.name, i.kind.kindName(), i.name, err)
			}
		}
	}
	return nil
}

// createIface creates one interface declared with Iface, in its node's
// namespace (through the parent's node when the parent lives elsewhere).
func (n *Network) createIface(i *planIface) error {
	nd := n.nodes[i.node.spec.name]
	b := &kindBuild{n: n, node: nd, on: nd, iface: i, attrs: netlink.LinkAttrs{Name: i.name, MTU: i.spec.mtu}}
	if i.parent != nil {
		b.on = n.nodes[i.parent.node.spec.name]
		if b.on != nd {
			b.attrs.Namespace = netlink.NsFd(int(nd.ns))
		}
		var err error
		if b.parent, err = b.on.nl.LinkByName(i.parent.name); err != nil {
			return fmt.Errorf("node %q: find parent %q of %q: %w", b.on.name, i.parent.name, i.name, err)
		}
	}
	l, err := i.kind.newLink(b)
	if err != nil {
		return fmt.Errorf("node %q: %s %q: %w", nd.name, i.kind.kindName(), i.name, err)
	}
	if err := b.on.nl.LinkAdd(l); err != nil {
		return fmt.Errorf("node %q: create %s %q: %w", nd.name, i.kind.kindName(), i.name, err)
	}
	if b.on != nd {
		if l, err = b.link(i); err != nil {
			return err
		}
	}
	if pc, ok := i.kind.(postCreator); ok {
		if err := pc.postCreate(b, l); err != nil {
			return fmt.Errorf("node %q: set up %s %q: %w", nd.name, i.kind.kindName(), i.name, err)
		}
	}
	_, err = nd.finish(n, i, l)
	return err
}

// finish does what every interface needs once it exists: enslave it to its
// master (and let the master configure the port), give it its addresses,
// set it up unless it is to stay down, and record it.
func (nd *Node) finish(n *Network, i *planIface, l netlink.Link) (*Interface, error) {
	if m := i.master; m != nil {
		mi := nd.Interface(m.name)
		if l.Attrs().MasterIndex != mi.Index {
			if err := nd.nl.LinkSetMasterByIndex(l, mi.Index); err != nil {
				return nil, fmt.Errorf("node %q: enslave %q to %s %q: %w", nd.name, i.name, m.kind.kindName(), m.name, err)
			}
		}
		if pc, ok := m.kind.(portConfigurer); ok {
			if err := pc.configurePort(&kindBuild{n: n, node: nd, on: nd, iface: m}, i, l); err != nil {
				return nil, fmt.Errorf("node %q: port %q of %q: %w", nd.name, i.name, m.name, err)
			}
		}
	}
	if err := nd.addAddrs(l, i.addrs); err != nil {
		return nil, err
	}
	switch {
	case i.down && i.master != nil:
		// Enslaving to a bond opens the member: close it again.
		if err := nd.nl.LinkSetDown(l); err != nil {
			return nil, fmt.Errorf("set %q down in node %q: %w", i.name, nd.name, err)
		}
	case !i.down && l.Attrs().Flags&net.FlagUp == 0:
		if err := nd.nl.LinkSetUp(l); err != nil {
			return nil, fmt.Errorf("set %q up in node %q: %w", i.name, nd.name, err)
		}
	}
	kind := "veth"
	if i.kind != nil {
		kind = i.kind.kindName()
	}
	ifc := &Interface{Name: i.name, Index: l.Attrs().Index, MAC: l.Attrs().HardwareAddr, Addrs: i.addrs, Kind: kind, Framing: framingOf(i.kind), Switches: isSwitcher(i.kind), plan: i}
	if i.master != nil {
		ifc.Master = i.master.name
	}
	nd.ifaces = append(nd.ifaces, ifc)
	return ifc, nil
}
