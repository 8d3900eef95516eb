package scenario

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
)

// ReplaceMultipath replaces a node's route to dst (a CIDR) in the main
// table with one over hops, each a gateway (a node or an address) and/or
// an interface with a weight, like ip route replace DST nexthop via GW
// dev DEV weight W …. It returns once the kernel lists the route with
// those nexthops; the evidence lists them.
func ReplaceMultipath(node, dst string, hops ...Nexthop) Action {
	return multipath{node: node, dst: dst, hops: hops}
}

type multipath struct {
	node, dst string
	hops      []Nexthop
}

func (a multipath) String() string {
	var hs []string
	for _, h := range a.hops {
		s := "nexthop"
		if h.Via != "" {
			s += " via " + h.Via
		}
		if h.Dev != "" {
			s += " dev " + h.Dev
		}
		if h.Weight != 0 {
			s += fmt.Sprintf(" weight %d", h.Weight)
		}
		hs = append(hs, s)
	}
	return fmt.Sprintf("replace route %s on %s: %s", a.dst, a.node, strings.Join(hs, ", "))
}

func (a multipath) validate(v *validator, p *plan, obj string) { a.resolve(v, p, obj) }

// resolve turns the hops into the dst family's gateways, reporting
// problems through v.
func (a multipath) resolve(v *validator, p *plan, obj string) (netip.Prefix, []planHop) {
	pn := v.node(p, obj, a.node)
	d, ok := v.prefix(obj, a.dst, true)
	if len(a.hops) == 0 {
		v.add(obj, "has no nexthops", "list at least one Nexthop")
	}
	if pn == nil || !ok {
		return d, nil
	}
	byName := map[string]*planNode{}
	for _, n := range p.nodes {
		byName[n.spec.name] = n
	}
	var out []planHop
	for i, h := range a.hops {
		var fam []planHop
		for _, ph := range v.resolveHop(obj, pn, byName, h.Via, h.Dev, h.Weight, d.Addr().Is6()) {
			if ph.via.Is4() == d.Addr().Is4() {
				fam = append(fam, ph)
			}
		}
		if len(fam) == 0 {
			v.add(obj, "nexthop %d has no gateway of the family of %s", "use a gateway on a segment of that family", i+1, d)
		}
		out = append(out, fam...)
	}
	return d, out
}

func (a multipath) Run(ctx context.Context, n *Network) error {
	_, err := a.report(ctx, n)
	return err
}

func (a multipath) report(ctx context.Context, n *Network) (string, error) {
	v := &validator{s: n.spec, direct: true}
	d, hops := a.resolve(v, n.plan, fmt.Sprintf("action %q", a))
	if err := v.err(); err != nil {
		return "", err
	}
	nd, ok := n.Lookup(a.node)
	if !ok {
		return "", fmt.Errorf("%s: no node %q", a, a.node)
	}
	fail := func(err error) (string, error) { return "", fmt.Errorf("%s: %w", a, err) }
	rt := &netlink.Route{Dst: ipNet(d), Family: family(d.Addr())}
	for _, h := range hops {
		nh := &netlink.NexthopInfo{Hops: h.weight - 1}
		if h.dev != "" {
			if i := nd.Interface(h.dev); i != nil {
				nh.LinkIndex = i.Index
			}
		}
		if !h.via.IsUnspecified() {
			nh.Gw = h.via.AsSlice()
		}
		rt.MultiPath = append(rt.MultiPath, nh)
	}
	if err := nd.nl.RouteReplace(rt); err != nil {
		return fail(err)
	}
	rs, err := nd.nl.RouteListFiltered(family(d.Addr()), &netlink.Route{Dst: ipNet(d), Table: tableMain}, netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	if err != nil {
		return fail(fmt.Errorf("read it back: %w", err))
	}
	if len(rs) != 1 {
		return fail(fmt.Errorf("the kernel lists %d routes to %s", len(rs), d))
	}
	var got []string
	for _, nh := range rs[0].MultiPath {
		dev := fmt.Sprint(nh.LinkIndex)
		if l, err := nd.nl.LinkByIndex(nh.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
		got = append(got, fmt.Sprintf("via %s dev %s weight %d", nh.Gw, dev, nh.Hops+1))
	}
	if len(got) == 0 && rs[0].Gw != nil {
		got = append(got, fmt.Sprintf("via %s (a single path)", rs[0].Gw))
	}
	if len(got) != len(hops) {
		return fail(fmt.Errorf("the kernel lists %d nexthops, not %d: %s", len(got), len(hops), orNone(got)))
	}
	return "the kernel lists " + strings.Join(got, ", "), nil
}
