package scenario

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// Role is the role of a node: host, router or switch.
type Role int

const (
	// RoleHost is a plain network namespace.
	RoleHost Role = iota
	// RoleRouter is a namespace with IPv4 and IPv6 forwarding on.
	RoleRouter
	// RoleSwitch is a namespace holding one Linux bridge; every link to a
	// switch becomes a port of that bridge.
	RoleSwitch
)

// String returns "host", "router" or "switch".
func (k Role) String() string {
	switch k {
	case RoleHost:
		return "host"
	case RoleRouter:
		return "router"
	case RoleSwitch:
		return "switch"
	}
	return fmt.Sprintf("Role(%d)", int(k))
}

// Default address ranges from which links without explicit addresses get a
// subnet. Every scenario lives in its own namespaces, so scenarios may share
// them freely.
const (
	DefaultRange4 = "10.200.0.0/16"
	DefaultRange6 = "fd00:7e57::/48"
)

// Spec is the definition of a scenario: its topology, its checks and the
// kernel features it needs.
type Spec struct {
	// Name identifies the scenario in reports and filters.
	Name string
	// Description says what the scenario is about.
	Description string
	// Range4 and Range6 are the ranges from which links without explicit
	// addresses get a /24 (IPv4) or /64 (IPv6). Empty means the defaults.
	Range4, Range6 string
	// IPv6 asks for automatic IPv6 addresses on every link as well (for
	// the ends without explicit addresses). Links with explicit IPv6
	// addresses or subnets need not set it.
	IPv6 bool

	nodes  []*NodeSpec
	links  []*LinkSpec
	checks []CheckSpec
	needs  []Feature

	parallel   bool // Parallel: checks between steps run concurrently
	neighbours bool // PreinstallNeighbours (neighbours.go)
}

// Define starts the definition of a scenario.
func Define(name, description string) *Spec {
	return &Spec{Name: name, Description: description}
}

// Host adds a host: a namespace of its own.
func (s *Spec) Host(name string) *NodeSpec { return s.add(name, RoleHost) }

// Router adds a router: a namespace with forwarding on.
func (s *Spec) Router(name string) *NodeSpec { return s.add(name, RoleRouter) }

// Switch adds a switch: a Linux bridge in a namespace of its own.
func (s *Spec) Switch(name string) *NodeSpec { return s.add(name, RoleSwitch) }

func (s *Spec) add(name string, kind Role) *NodeSpec {
	n := &NodeSpec{name: name, kind: kind, sysctls: map[string]string{}}
	s.nodes = append(s.nodes, n)
	return n
}

// Link joins two nodes with a veth pair. Each end is "node" or
// "node:interface"; interfaces without a name are called eth0, eth1, … in the
// order the node's links are defined. Both ends may be on the same node.
func (s *Spec) Link(a, b string) *LinkSpec {
	l := &LinkSpec{a: parseEnd(a), b: parseEnd(b)}
	s.links = append(s.links, l)
	return l
}

// Check adds a check, run inside the built network in definition order
// (concurrently with its neighbours between steps when the scenario is
// Parallel).
// The file and line of the call are recorded for reports.
func (s *Spec) Check(name string, fn CheckFunc) *Spec {
	c := CheckSpec{Name: name, Func: fn, Kind: ItemCheck}
	if _, file, line, ok := runtime.Caller(1); ok {
		c.File, c.Line = file, line
	}
	s.checks = append(s.checks, c)
	return s
}

// Needs declares kernel features the scenario cannot run without. A run on a
// kernel that lacks one skips the scenario with the probe's reason.
func (s *Spec) Needs(f ...Feature) *Spec {
	s.needs = append(s.needs, f...)
	return s
}

// Nodes returns the nodes in definition order.
func (s *Spec) Nodes() []*NodeSpec { return s.nodes }

// Links returns the links in definition order.
func (s *Spec) Links() []*LinkSpec { return s.links }

// Checks returns the checks in definition order, without the steps (see
// Items).
func (s *Spec) Checks() []CheckSpec {
	var out []CheckSpec
	for _, c := range s.checks {
		if !c.IsStep() {
			out = append(out, c)
		}
	}
	return out
}

// Features returns the kernel features the scenario needs: those declared
// with Needs, and those its definition implies (veth for links, bridge for
// switches, masquerade for NAT routers, netem for delays, ipv6 when IPv6 is
// on).
func (s *Spec) Features() []Feature {
	var out []Feature
	seen := map[Feature]bool{}
	add := func(f Feature) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for _, f := range s.needs {
		add(f)
	}
	if len(s.links) > 0 {
		add(FeatureVeth)
	}
	for _, n := range s.nodes {
		if n == nil {
			continue
		}
		if n.kind == RoleSwitch {
			add(FeatureBridge)
		}
		if n.masquerade != nil {
			add(FeatureMasquerade)
		}
		for _, i := range n.ifaces {
			if i != nil && i.kind != nil && i.kind.feature() != "" {
				add(i.kind.feature())
			}
		}
	}
	for _, l := range s.links {
		if l != nil && l.delay > 0 {
			add(FeatureNetem)
		}
	}
	for _, f := range s.l3Features() {
		add(f)
	}
	for _, c := range s.checks {
		if a, ok := c.Action.(interface{ features() []Feature }); ok {
			for _, f := range a.features() {
				add(f)
			}
		}
	}
	if s.IPv6 || s.usesIPv6() {
		add(FeatureIPv6)
	}
	return out
}

// NodeSpec is the definition of one node.
type NodeSpec struct {
	name       string
	kind       Role
	sysctls    map[string]string
	sysctlKeys []string // definition order
	routes     []RouteSpec
	masquerade *string
	addrs      []string       // switch only: addresses of the bridge
	subnets    []string       // switch only: the segment's subnets
	l3         nodeL3         // policy rules, neighbours (route.go)
	nat        []NATRule      // nat.go
	firewall   []FirewallRule // firewall.go
	ifaces     []*IfaceSpec
	down       []string
	private    []string // private.go: tmpfs over these paths for processes
}

// Name returns the node's name.
func (n *NodeSpec) Name() string { return n.name }

// Kind returns the node's role.
func (n *NodeSpec) Role() Role { return n.kind }

// Sysctl sets a network sysctl ("net.ipv4.conf.eth0.accept_local") in the
// node's namespace. Only net.* sysctls are per namespace; others are refused.
func (n *NodeSpec) Sysctl(name, value string) *NodeSpec {
	if _, ok := n.sysctls[name]; !ok {
		n.sysctlKeys = append(n.sysctlKeys, name)
	}
	n.sysctls[name] = value
	return n
}

// Route adds a static route. dst is "default" or a CIDR; via is a gateway
// address or the name of a neighbouring node. AddRoute takes every option
// (multipath, device routes, blackholes, metrics, tables, source).
func (n *NodeSpec) Route(dst, via string) *NodeSpec {
	n.routes = append(n.routes, RouteSpec{Dst: dst, Via: via})
	return n
}

// Masquerade makes a router a NAT router: traffic it forwards out of the
// interface outside gets the address of that interface as its source
// (nftables masquerade, installed in the router's namespace).
func (n *NodeSpec) Masquerade(outside string) *NodeSpec {
	n.masquerade = &outside
	return n
}

// Addr gives a switch's bridge an address, making the switch reachable on
// its segment (the "bridge holding an address" setup).
func (n *NodeSpec) Addr(cidr string) *NodeSpec {
	n.addrs = append(n.addrs, cidr)
	return n
}

// Subnet sets a subnet of a switch's segment; hosts linked to the switch
// without explicit addresses get addresses from it (from each, when it is
// called more than once). A host with explicit addresses gets exactly
// those.
func (n *NodeSpec) Subnet(cidr string) *NodeSpec {
	n.subnets = append(n.subnets, cidr)
	return n
}

// Sysctls returns the node's sysctls in definition order.
func (n *NodeSpec) Sysctls() [][2]string {
	out := make([][2]string, 0, len(n.sysctlKeys))
	for _, k := range n.sysctlKeys {
		out = append(out, [2]string{k, n.sysctls[k]})
	}
	return out
}

// Routes returns the node's static routes.
func (n *NodeSpec) Routes() []RouteSpec { return n.routes }

// MasqueradeInterface returns the outside interface of a NAT router, and
// whether the node masquerades at all.
func (n *NodeSpec) MasqueradeInterface() (string, bool) {
	if n.masquerade == nil {
		return "", false
	}
	return *n.masquerade, true
}

// Endpoint is one end of a link.
type Endpoint struct {
	// Node is the node's name.
	Node string
	// Interface is the interface name in the node, or "" for an automatic
	// one.
	Interface string
}

func parseEnd(s string) Endpoint {
	node, iface, _ := strings.Cut(s, ":")
	return Endpoint{Node: node, Interface: iface}
}

// String returns "node" or "node:interface".
func (e Endpoint) String() string {
	if e.Interface == "" {
		return e.Node
	}
	return e.Node + ":" + e.Interface
}

// LinkSpec is the definition of one veth pair.
type LinkSpec struct {
	a, b    Endpoint
	subnets []string
	addrsA  []string
	addrsB  []string
	// noneA and noneB hold, for each Addrs call that left that end
	// empty, the other end's address: the end gets no address in its
	// subnet. noAddrs records an Addrs("", "").
	noneA, noneB []string
	noAddrs      bool
	mtu          int
	queues       int
	delay        time.Duration
	impair       []DirectedImpairment // impair.go
	ends         []endAttrs           // endattrs.go
	l2           bool
}

// L2 makes the link layer 2 only: neither end gets an address (trunks,
// ports). Links to a port of a bridge or bond inside a node are layer 2 on
// that end already.
func (l *LinkSpec) L2() *LinkSpec {
	l.l2 = true
	return l
}

// Ends returns the link's two ends as defined.
func (l *LinkSpec) Ends() (a, b Endpoint) { return l.a, l.b }

// Subnet sets a subnet of the link: ends without explicit addresses get
// the first free addresses of it. Call it once per subnet (a link may
// have several of one family).
func (l *LinkSpec) Subnet(cidr string) *LinkSpec {
	l.subnets = append(l.subnets, cidr)
	return l
}

// Addrs gives the two ends explicit addresses in CIDR form ("10.0.0.1/24").
// An end with explicit addresses gets exactly those: no automatic address
// in any subnet, of any family. "" gives that end no address in the other
// end's subnet (it may still get automatic addresses in the link's other
// subnets). Call it once per address pair; for addresses in two subnets
// of one family, declare both with Subnet.
func (l *LinkSpec) Addrs(a, b string) *LinkSpec {
	switch {
	case a == "" && b == "":
		l.noAddrs = true
	case a == "":
		l.noneA = append(l.noneA, b)
	case b == "":
		l.noneB = append(l.noneB, a)
	}
	if a != "" {
		l.addrsA = append(l.addrsA, a)
	}
	if b != "" {
		l.addrsB = append(l.addrsB, b)
	}
	return l
}

// Delay adds a netem qdisc delaying every packet by d on both ends, so a
// round trip takes at least 2d. The scenario then needs FeatureNetem and is
// skipped on kernels without sch_netem.
func (l *LinkSpec) Delay(d time.Duration) *LinkSpec {
	l.delay = d
	return l
}

// MTU sets the MTU of both ends.
func (l *LinkSpec) MTU(mtu int) *LinkSpec {
	l.mtu = mtu
	return l
}

// Queues gives both ends n transmit and n receive queues (at most 256).
// vtest's veth ends have one of each by default, where the kernel would
// give one per possible CPU: creating a queue costs kobjects in sysfs, a
// veth on a 128-CPU machine would cost 10× more to create, and only
// traffic through XDP or GRO on a veth is spread over its queues. Give a
// link queues to test RSS, XDP or multi-queue qdiscs on it.
func (l *LinkSpec) Queues(n int) *LinkSpec {
	l.queues = n
	return l
}

// CheckFunc is a check: it runs against a built network and returns its
// result with evidence.
type CheckFunc func(ctx context.Context, n *Network) Result

// CheckSpec is a named check or step of a scenario.
type CheckSpec struct {
	Name string
	Func CheckFunc
	// File and Line locate the Check call that declared it.
	File string
	Line int
	// Kind is ItemCheck ("" counts as a check) or ItemStep.
	Kind ItemKind
	// Action is a step's action; nil for checks.
	Action Action
}

// IsStep reports whether the item is a step.
func (c CheckSpec) IsStep() bool { return c.Kind == ItemStep }

// Result is the outcome of one check.
type Result struct {
	// Err is nil when the check passed.
	Err error
	// Skip, when not empty, marks the check skipped with this reason.
	Skip string
	// Evidence is what the check measured or saw, for the report, whether
	// it passed or not.
	Evidence string
}

// Verdict makes a Result from evidence and an error.
//
// An InconclusiveError makes the result a skip with its reason (and keeps
// the error, so a run that treats inconclusive as failure can fail it).
func Verdict(evidence string, err error) Result {
	if IsInconclusive(err) {
		return Result{Err: err, Skip: err.Error(), Evidence: evidence}
	}
	return Result{Err: err, Evidence: evidence}
}

// Subnets returns the link's subnets as defined.
func (l *LinkSpec) Subnets() []string { return l.subnets }
