package scenario

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AddVeth creates a veth pair at run time between two ends
// ("node:iface", interfaces the nodes do not have yet), with an optional
// address on each ("" for none), brings both up and returns once the
// kernel reports both carriers (see LinkUp). The new interfaces appear
// in Node.Interfaces for Go checks; built-in actions validate their ends
// against the declared topology (Apply too), so they cannot name them
// yet. The kernel deletes the pair with the nodes' namespaces.
func AddVeth(a, b, addrA, addrB string) Action {
	return addVeth{a: a, b: b, addrA: addrA, addrB: addrB}
}

type addVeth struct{ a, b, addrA, addrB string }

func (x addVeth) String() string {
	s := fmt.Sprintf("add veth %s — %s", x.a, x.b)
	if x.addrA != "" || x.addrB != "" {
		s += fmt.Sprintf(" (%s, %s)", orDash(x.addrA), orDash(x.addrB))
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (x addVeth) validate(v *validator, p *plan, obj string) {
	for _, e := range []struct{ end, addr string }{{x.a, x.addrA}, {x.b, x.addrB}} {
		node, iface, ok := strings.Cut(e.end, ":")
		if !ok || iface == "" {
			v.add(obj, "%q does not name an interface", "write node:interface, like r1:eth9", e.end)
			continue
		}
		pn := v.node(p, obj, node)
		switch {
		case len(iface) > maxIfaceName || !ifaceNameRE.MatchString(iface):
			v.add(obj, "interface name %q is not a valid Linux name", "use at most 15 letters, digits, '-', '_' or '.'", iface)
		case pn != nil && (pn.iface(iface) != nil || pn.bridge == iface):
			v.add(obj, "node %q already has an interface %q", "pick a new name for the run-time link", node, iface)
		}
		if e.addr != "" {
			v.prefix(obj, e.addr, false)
		}
	}
	if x.a == x.b {
		v.add(obj, "both ends are %q", "name two different ends", x.a)
	}
}

func (x addVeth) Run(ctx context.Context, n *Network) error {
	_, err := x.report(ctx, n)
	return err
}

func (x addVeth) report(ctx context.Context, n *Network) (string, error) {
	fail := func(err error) (string, error) { return "", fmt.Errorf("%s: %w", x, err) }
	na, ia, _ := strings.Cut(x.a, ":")
	nb, ib, _ := strings.Cut(x.b, ":")
	ndA, okA := n.Lookup(na)
	ndB, okB := n.Lookup(nb)
	if !okA || !okB {
		return fail(fmt.Errorf("no node %q or %q", na, nb))
	}
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: ia}, PeerName: ib, PeerNamespace: netlink.NsFd(int(ndB.ns))}
	if err := ndA.nl.LinkAdd(v); err != nil {
		return fail(err)
	}
	var ev []string
	for _, e := range []struct {
		nd          *Node
		name, addr  string
		peer, pname string
	}{{ndA, ia, x.addrA, nb, ib}, {ndB, ib, x.addrB, na, ia}} {
		l, err := e.nd.nl.LinkByName(e.name)
		if err != nil {
			return fail(fmt.Errorf("read %s:%s back: %w", e.nd.name, e.name, err))
		}
		ifc := &Interface{Name: e.name, Index: l.Attrs().Index, MAC: l.Attrs().HardwareAddr, Kind: "veth", PeerNode: e.peer, PeerInterface: e.pname}
		if e.addr != "" {
			pfx, err := netip.ParsePrefix(e.addr)
			if err != nil {
				return fail(err)
			}
			na := &netlink.Addr{IPNet: ipNet(pfx)}
			if pfx.Addr().Is6() {
				na.Flags = unix.IFA_F_NODAD
			}
			if err := e.nd.nl.AddrAdd(l, na); err != nil {
				return fail(fmt.Errorf("address %s on %s:%s: %w", pfx, e.nd.name, e.name, err))
			}
			ifc.Addrs = []netip.Prefix{pfx}
		}
		e.nd.ifaces = append(e.nd.ifaces, ifc)
	}
	// The peer first, so that bringing the first end up gives both a
	// carrier, which LinkUp awaits.
	if err := ndB.nl.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ndB.Interface(ib).Index}}); err != nil {
		return fail(err)
	}
	up, err := (linkState{end: x.a, up: true}).report(ctx, n)
	if err != nil {
		return fail(err)
	}
	ev = append(ev, up)
	return strings.Join(ev, "; "), nil
}
