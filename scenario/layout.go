package scenario

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Layout is a scenario's topology as Build will create it: every interface
// with its kernel name and allocated addresses, every route with its
// gateway resolved. It is what vtest graph shows (DOT, Mermaid, JSON).
type Layout struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Nodes       []LayoutNode `json:"nodes"`
	Links       []LayoutLink `json:"links"`
	// Relations are what joins nodes besides links: a macvlan or ipvlan
	// on another node's interface, a WireGuard tunnel (each once).
	Relations []LayoutRelation `json:"relations,omitempty"`
}

// LayoutRelation joins two nodes otherwise than by a link.
type LayoutRelation struct {
	A     string `json:"a"` // node names
	B     string `json:"b"`
	Label string `json:"label"`
}

// LayoutNode is a node of a Layout.
type LayoutNode struct {
	Name       string            `json:"name"`
	Kind       string            `json:"kind"` // host, router or switch
	Interfaces []LayoutInterface `json:"interfaces"`
	// Bridge and BridgeAddrs: a switch's bridge and its addresses.
	Bridge      string        `json:"bridge,omitempty"`
	BridgeAddrs []string      `json:"bridge_addresses,omitempty"`
	Routes      []LayoutRoute `json:"routes,omitempty"`
	// Masquerade is the interface a NAT router masquerades out of.
	Masquerade string `json:"masquerade,omitempty"`
	// NAT and Firewall summarise the node's NAT and firewall rules.
	NAT      []string `json:"nat,omitempty"`
	Firewall []string `json:"firewall,omitempty"`
	// PolicyRules counts the node's policy-routing rules.
	PolicyRules int `json:"policy_rules,omitempty"`
}

// LayoutInterface is an interface with its addresses (CIDR notation).
type LayoutInterface struct {
	Name  string   `json:"name"`
	Addrs []string `json:"addresses,omitempty"`
	// Kind is "veth" or the kind declared with Iface ("vlan", "bond", …);
	// Detail describes a declared interface ("vlan 10 (802.1q) on eth0").
	Kind   string `json:"kind"`
	Detail string `json:"detail,omitempty"`
	// Master is the bridge, bond or VRF the interface is enslaved to.
	Master string `json:"master,omitempty"`
	// MTU is the MTU the scenario sets (a veth end's is its link's); 0
	// for the kernel's default.
	MTU int `json:"mtu,omitempty"`
}

// LayoutLink is a veth pair between two node:interface ends.
type LayoutLink struct {
	A     string `json:"a"` // "node:interface"
	B     string `json:"b"`
	Delay string `json:"delay,omitempty"`
	MTU   int    `json:"mtu,omitempty"`
	// Impairments are the link's impairments, "from a: rate 8mbit" or
	// "both ways: delay 10ms".
	Impairments []string `json:"impairments,omitempty"`
}

// LayoutRoute is a static route with its gateway resolved.
type LayoutRoute struct {
	Dst      string      `json:"dst"`
	Type     string      `json:"type,omitempty"` // blackhole, unreachable, prohibit; empty for unicast
	Via      string      `json:"via,omitempty"`
	Dev      string      `json:"dev,omitempty"`
	Nexthops []LayoutHop `json:"nexthops,omitempty"` // multipath
	Metric   int         `json:"metric,omitempty"`
	Table    int         `json:"table,omitempty"` // 0: the main table
	Src      string      `json:"src,omitempty"`
}

// LayoutHop is one path of a multipath route.
type LayoutHop struct {
	Via    string `json:"via,omitempty"`
	Dev    string `json:"dev,omitempty"`
	Weight int    `json:"weight,omitempty"`
}

// String describes the route as ip route would, briefly.
func (r LayoutRoute) String() string {
	var b strings.Builder
	if r.Type != "" {
		b.WriteString(r.Type + " ")
	}
	b.WriteString(r.Dst)
	hop := func(via, dev string) {
		if via != "" {
			b.WriteString(" via " + via)
		}
		if dev != "" {
			b.WriteString(" dev " + dev)
		}
	}
	hop(r.Via, r.Dev)
	for _, h := range r.Nexthops {
		b.WriteString(" nexthop")
		hop(h.Via, h.Dev)
		if h.Weight > 0 {
			fmt.Fprintf(&b, " weight %d", h.Weight)
		}
	}
	if r.Src != "" {
		b.WriteString(" src " + r.Src)
	}
	if r.Metric != 0 {
		fmt.Fprintf(&b, " metric %d", r.Metric)
	}
	if r.Table != 0 {
		fmt.Fprintf(&b, " table %d", r.Table)
	}
	return b.String()
}

// Layout validates the scenario and returns its resolved topology.
func (s *Spec) Layout() (*Layout, error) {
	p, err := s.plan()
	if err != nil {
		return nil, err
	}
	l := &Layout{Name: s.Name, Description: s.Description}
	for _, n := range p.nodes {
		ln := LayoutNode{Name: n.spec.name, Kind: n.spec.kind.String(), Interfaces: []LayoutInterface{}}
		if n.spec.kind == RoleSwitch {
			ln.Bridge = n.bridge
			for _, a := range n.bridgeAddrs {
				ln.BridgeAddrs = append(ln.BridgeAddrs, a.String())
			}
		}
		for _, i := range n.ifaces {
			li := LayoutInterface{Name: i.name, Kind: "veth", MTU: i.mtu()}
			if i.spec != nil {
				li.Kind, li.Detail = i.kind.kindName(), i.kind.describe(i.spec)
			}
			if i.master != nil {
				li.Master = i.master.name
			}
			for _, a := range i.addrs {
				li.Addrs = append(li.Addrs, a.String())
			}
			ln.Interfaces = append(ln.Interfaces, li)
		}
		for _, r := range n.routes {
			ln.Routes = append(ln.Routes, layoutRoute(r))
		}
		if out, ok := n.spec.MasqueradeInterface(); ok {
			ln.Masquerade = out
		}
		for _, r := range n.spec.NATRules() {
			ln.NAT = append(ln.NAT, natSummary(r))
		}
		for _, r := range n.spec.FirewallRules() {
			ln.Firewall = append(ln.Firewall, strings.TrimSpace(fmt.Sprintf("%s %v %v", r.Name, r.Hook, r.Action)))
		}
		ln.PolicyRules = len(n.spec.Rules())
		l.Nodes = append(l.Nodes, ln)
	}
	for _, k := range p.links {
		ll := LayoutLink{A: end(k.a), B: end(k.b), MTU: k.spec.mtu}
		if k.spec.delay > 0 {
			ll.Delay = k.spec.delay.Round(time.Microsecond).String()
		}
		for _, im := range k.spec.Impairments() {
			from := "both ways"
			if im.From != "" {
				from = "from " + im.From
			}
			ll.Impairments = append(ll.Impairments, fmt.Sprintf("%s: %v", from, im.Impairment))
		}
		l.Links = append(l.Links, ll)
	}
	l.Relations = relations(s)
	return l, nil
}

func layoutRoute(r planRoute) LayoutRoute {
	addr := func(a netip.Addr) string {
		if !a.IsValid() {
			return ""
		}
		return a.String()
	}
	lr := LayoutRoute{Dst: r.dst.String(), Via: addr(r.via), Dev: r.dev, Metric: r.metric, Src: addr(r.src)}
	if r.table != unix.RT_TABLE_MAIN {
		lr.Table = r.table
	}
	if r.typ != RouteUnicast {
		lr.Type = r.typ.String()
	}
	for _, h := range r.hops {
		lr.Nexthops = append(lr.Nexthops, LayoutHop{Via: addr(h.via), Dev: h.dev, Weight: h.weight})
	}
	return lr
}

// relations returns the relations between nodes that are not links: an
// interface built on another node's interface, and tunnel peers (each
// pair once).
func relations(s *Spec) []LayoutRelation {
	var out []LayoutRelation
	seen := map[[2]string]bool{}
	for _, n := range s.nodes {
		for _, i := range n.ifaces {
			for _, r := range i.Related() {
				if node, iface, ok := strings.Cut(r, ":"); ok && node != n.name {
					out = append(out, LayoutRelation{n.name, node, fmt.Sprintf("%s on %s:%s", i.Kind(), node, iface)})
				}
			}
			if p := i.Peer(); p != "" {
				node, _, _ := strings.Cut(p, ":")
				self := n.name + ":" + i.name
				if !seen[[2]string{p, self}] {
					seen[[2]string{self, p}] = true
					out = append(out, LayoutRelation{n.name, node, fmt.Sprintf("%s %s — %s", i.Kind(), self, p)})
				}
			}
		}
	}
	return out
}

func end(i *planIface) string { return fmt.Sprintf("%s:%s", i.node.spec.name, i.name) }

// natSummary is one line for a NAT rule, e.g. "dnat in wan tcp/8080 → 10.0.0.2:80".
func natSummary(r NATRule) string {
	s := fmt.Sprint(r.Action)
	if r.In != "" {
		s += " in " + r.In
	}
	if r.Out != "" {
		s += " out " + r.Out
	}
	if r.Proto != "" {
		s += " " + r.Proto
	}
	if r.DPort != "" {
		s += "/" + r.DPort
	}
	if r.To != "" {
		s += " → " + r.To
	}
	return s
}
