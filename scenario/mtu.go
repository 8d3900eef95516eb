package scenario

import (
	"fmt"
	"strings"
)

// The MTU range Linux accepts on any interface: IPv4's minimum (RFC 791)
// up to what a 16-bit length can say.
const (
	minMTU = 68
	maxMTU = 65535
)

// validMTU is the one MTU rule: an MTU Linux takes, 68..65535.
func validMTU(mtu int) bool { return mtu >= minMTU && mtu <= maxMTU }

// checkMTU refuses a declared MTU (a link's or an interface's) outside
// the range; 0 keeps the kernel's default.
func (v *validator) checkMTU(obj string, mtu int) {
	if mtu != 0 && !validMTU(mtu) {
		v.add(obj, "MTU %d is out of range", fmt.Sprintf("use 0 (default) or %d..%d", minMTU, maxMTU), mtu)
	}
}

// mtu returns the MTU the scenario gives the interface: its link's for a
// veth end, its own for a declared interface; 0 for the kernel's default.
func (i *planIface) mtu() int {
	switch {
	case i.link != nil:
		return i.link.spec.mtu
	case i.spec != nil:
		return i.spec.mtu
	}
	return 0
}

// ipv6MinMTU is the smallest MTU IPv6 works on (RFC 8200): Linux disables
// IPv6 on a device with a smaller MTU and refuses its IPv6 addresses with
// "invalid argument".
const ipv6MinMTU = 1280

// ipv6MTU refuses IPv6 addresses on an interface whose MTU is below 1280,
// which the build would otherwise fail on with "invalid argument".
func (v *validator) ipv6MTU(p *plan) {
	seen := map[*planLink]bool{}
	for _, pn := range p.nodes {
		for _, i := range pn.ifaces {
			mtu, obj := i.mtu(), ""
			switch {
			case i.link != nil:
				if seen[i.link] {
					continue
				}
				obj = fmt.Sprintf("link %s:%s—%s:%s", i.link.a.node.spec.name, i.link.a.name, i.link.b.node.spec.name, i.link.b.name)
			case i.spec != nil:
				obj = fmt.Sprintf("node %q interface %q", pn.spec.name, i.name)
			}
			if mtu == 0 || mtu >= ipv6MinMTU {
				continue
			}
			var v6 []string
			for _, e := range []*planIface{i, i.peer} {
				if e == nil {
					continue
				}
				for _, a := range e.addrs {
					if a.Addr().Is6() && !a.Addr().Is4In6() {
						v6 = append(v6, fmt.Sprintf("%s on %s:%s", a, e.node.spec.name, e.name))
					}
				}
			}
			if len(v6) == 0 {
				continue
			}
			if i.link != nil {
				seen[i.link] = true
			}
			v.add(obj, "MTU %d is below %d, the smallest IPv6 allows, but it has IPv6 addresses (%s): Linux refuses them",
				"raise the MTU to 1280 or more, or keep IPv6 off this link (no IPv6 Subnet or Addrs on it, and Spec.IPv6 off)",
				mtu, ipv6MinMTU, strings.Join(v6, ", "))
		}
	}
}

// downUnknown reports a name given to Down that is not an interface of
// the node, with the fix that fits.
func (v *validator) downUnknown(pn *planNode, name string) {
	obj := fmt.Sprintf("node %q", pn.spec.name)
	switch {
	case name == "lo":
		v.add(obj, "Down names \"lo\", the loopback device, which every node keeps up (local traffic and checks need it)",
			"remove \"lo\" from Down; to cut the node off, leave its links down instead (Down(\"eth0\") or a LinkDown step)")
	case len(pn.ifaces) == 0:
		v.add(obj, "Down names %q, but the node has no interfaces", "define the interface with Link or Iface, or remove it from Down", name)
	default:
		v.add(obj, "Down names %q, which is not one of its interfaces", "name one of its interfaces: "+pn.ifaceNames(), name)
	}
}
