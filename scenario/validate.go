package scenario

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
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

	endAttrs *EndAttrs // veth ends: SetEnd's attributes
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
	// named lists the nodes that the objects validated name and that
	// exist, in order: the nodes a built-in action acts in.
	named []string
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
		if ns.kind == RoleSwitch {
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
		v.checkMTU(obj, ls.mtu)
		if ls.queues < 0 || ls.queues > 256 {
			v.add(obj, "%d queues is out of range", "use 0 (default: one) or 1..256", ls.queues)
		}
		if na == nb && na.spec.kind == RoleSwitch {
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
		if pn.spec.kind == RoleSwitch && pn.iface(pn.bridge) != nil {
			v.add(fmt.Sprintf("node %q", pn.spec.name), "a port is named like the bridge %q", "rename the port", pn.bridge)
		}
	}

	v.kinds(p)
	v.loops(p)
	v.addresses(p, range4, range6)
	v.kindAddrs(p)
	v.ipv6MTU(p)
	v.endAttrs(p)
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
		if i.node.spec.kind == RoleSwitch {
			return i.node, false
		}
		if i.master != nil {
			if b, ok := i.master.kind.(switcher); ok {
				return i.master, b.stp()
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
		case pn.spec.kind != RoleRouter:
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
