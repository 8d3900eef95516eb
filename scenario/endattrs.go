package scenario

import (
	"fmt"
	"net"
	"strings"

	"github.com/vishvananda/netlink"
)

// EndAttrs are attributes of one end of a link, set when the veth pair is
// created (like ip link add ... address MAC mtu N txqueuelen N group N).
// Zero fields keep the defaults.
type EndAttrs struct {
	// MAC is the end's hardware address, "02:00:00:00:00:01"; a unicast
	// address, unique in the scenario. Default: a random one.
	MAC string
	// MTU overrides the link's MTU (LinkSpec.MTU) on this end, 68..65535.
	MTU int
	// TxQueueLen is the transmit queue length in packets (txqueuelen).
	TxQueueLen int
	// Group is the interface group (ip link set group), 1..2^32-1.
	Group uint32
}

// endAttrs is one SetEnd call.
type endAttrs struct {
	end string
	EndAttrs
}

// SetEnd sets attributes of one end of the link, written as in Link
// ("node" or "node:interface"). An end is set once.
func (l *LinkSpec) SetEnd(end string, a EndAttrs) *LinkSpec {
	if end == "" {
		end = "\x00" // never an end: reported by Validate
	}
	l.ends = append(l.ends, endAttrs{end: end, EndAttrs: a})
	return l
}

// EndAttrs returns the attributes set on the end named end (as given to
// SetEnd), zero if none.
func (l *LinkSpec) EndAttrs(end string) EndAttrs {
	for _, e := range l.ends {
		if e.end == end {
			return e.EndAttrs
		}
	}
	return EndAttrs{}
}

// endOf returns which end of pl the name end is, written as in Link, or
// nil.
func (pl *planLink) endOf(end string) *planIface {
	switch {
	case end == pl.spec.a.String() || end == pl.a.node.spec.name+":"+pl.a.name:
		return pl.a
	case end == pl.spec.b.String() || end == pl.b.node.spec.name+":"+pl.b.name:
		return pl.b
	}
	return nil
}

// endAttrs validates every link's SetEnd calls and gives each end its
// attributes; MAC addresses must be unique in the scenario.
func (v *validator) endAttrs(p *plan) {
	macs := map[string]string{} // MAC -> the end that has it
	for _, pl := range p.links {
		obj := fmt.Sprintf("link %s:%s—%s:%s", pl.a.node.spec.name, pl.a.name, pl.b.node.spec.name, pl.b.name)
		for _, e := range pl.spec.ends {
			i := pl.endOf(e.end)
			if i == nil {
				v.add(obj, "SetEnd(%q) names neither end", fmt.Sprintf("use %q or %q", pl.spec.a, pl.spec.b), strings.ReplaceAll(e.end, "\x00", ""))
				continue
			}
			where := i.node.spec.name + ":" + i.name
			if i.endAttrs != nil {
				v.add(obj, "the end %s is set twice", "merge the two SetEnd calls into one", where)
				continue
			}
			ok := true
			if e.MAC != "" {
				mac, err := net.ParseMAC(e.MAC)
				switch {
				case err != nil || len(mac) != 6:
					v.add(obj, "MAC %q of %s is not an Ethernet address", "write it like 02:00:00:00:00:01", e.MAC, where)
					ok = false
				case mac[0]&1 == 1 || mac.String() == "00:00:00:00:00:00":
					v.add(obj, "MAC %s of %s is not a unicast address", "use an address whose first byte is even, e.g. 02:00:00:00:00:01", mac, where)
					ok = false
				case macs[mac.String()] != "":
					v.add(obj, "MAC %s of %s is also the MAC of %s", "give every interface its own MAC address", mac, where, macs[mac.String()])
					ok = false
				default:
					macs[mac.String()] = where
				}
			}
			if e.MTU != 0 && (e.MTU < 68 || e.MTU > 65535) {
				v.add(obj, "MTU %d of %s is out of range", "use 0 (the link's) or 68..65535", e.MTU, where)
				ok = false
			}
			if e.MTU > 0 && e.MTU < ipv6MinMTU {
				for _, a := range i.addrs {
					if a.Addr().Is6() && !a.Addr().Is4In6() {
						v.add(obj, "MTU %d of %s is below %d, the smallest IPv6 allows, but it has the IPv6 address %s: Linux refuses it",
							"raise the MTU to 1280 or more, or keep IPv6 off this end", e.MTU, where, ipv6MinMTU, a)
						ok = false
						break
					}
				}
			}
			if e.TxQueueLen < 0 {
				v.add(obj, "txqueuelen %d of %s is negative", "use 0 (default) or a number of packets", e.TxQueueLen, where)
				ok = false
			}
			if ok {
				i.endAttrs = &e.EndAttrs
			}
		}
	}
}

// setVethEnds gives the pair v, created from end a, the attributes of both
// ends (the peer's group is set once it exists, see setPeerGroup).
func setVethEnds(v *netlink.Veth, a, z *planIface, linkMTU int) {
	if ea := a.endAttrs; ea != nil {
		if ea.MAC != "" {
			v.HardwareAddr, _ = net.ParseMAC(ea.MAC)
		}
		if ea.MTU > 0 {
			v.MTU = ea.MTU
		}
		if ea.TxQueueLen > 0 {
			v.TxQLen = ea.TxQueueLen
		}
		v.Group = ea.Group
	}
	// The peer inherits what it is not given: give it the link's MTU.
	v.PeerMTU = uint32(linkMTU)
	if v.PeerMTU == 0 && v.MTU != linkMTU {
		v.PeerMTU = 1500
	}
	if ez := z.endAttrs; ez != nil {
		if ez.MAC != "" {
			v.PeerHardwareAddr, _ = net.ParseMAC(ez.MAC)
		}
		if ez.MTU > 0 {
			v.PeerMTU = uint32(ez.MTU)
		}
		if ez.TxQueueLen > 0 {
			v.PeerTxQLen = ez.TxQueueLen
		}
	}
}

// setPeerGroup sets the group of the veth end z, which the request
// creating the pair cannot.
func (nd *Node) setPeerGroup(z *planIface, l netlink.Link) error {
	if z.endAttrs == nil || z.endAttrs.Group == 0 {
		return nil
	}
	if err := nd.nl.LinkSetGroup(l, int(z.endAttrs.Group)); err != nil {
		return fmt.Errorf("set group %d of %s:%s: %w", z.endAttrs.Group, nd.name, z.name, err)
	}
	return nil
}
