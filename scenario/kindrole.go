package scenario

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// The roles of link kinds: what the rest of the package asks of a kind
// instead of naming it. A kind has a role by having its method.

// master is a kind that holds other interfaces of its node, named with
// Members (a bridge, a bond, a VRF).
type master interface {
	// enslavesL2 reports whether the interfaces it holds become layer-2
	// ports that carry no address of their own (a bridge, a bond), rather
	// than keep their layer-3 role (a VRF).
	enslavesL2() bool
}

// switcher is a master that switches frames between its ports (a
// bridge): veth ends join it as they are created, FDB steps apply to it,
// and links between switchers may close a loop only when both run STP.
type switcher interface {
	master
	// stp reports whether it runs the spanning tree protocol.
	stp() bool
	// vlanFiltering reports whether its ports carry VLANs.
	vlanFiltering() bool
}

// underlayFree is a kind that comes up even when the interface it is
// built on stays down (a VXLAN, whose underlay is only the device it
// sends from).
type underlayFree interface{ underlayFree() }

// remoteFDB is a tunnel kind whose FDB entries send frames to a remote
// endpoint (a VXLAN): the VXLANFDB step applies to it.
type remoteFDB interface{ remoteFDB() }

// upper is a kind stacked on a parent interface whose wire it shares (a
// macvlan, an ipvlan): frames it sends leave through the parent, frames
// from the wire reach it, and it reaches its siblings on the same parent
// only in some modes.
type upper interface {
	parentName() string
	// siblingMode names the mode of l, a built link of the kind (or, for
	// nil, the mode declared), and whether frames pass between siblings
	// on one parent in it.
	siblingMode(l netlink.Link) (mode string, passes bool)
}

// noUppers is a kind that cannot be the parent of a macvlan or ipvlan.
type noUppers interface{ noUppers() }

// framer is a kind whose traffic is not Ethernet frames, or that carries
// no traffic of its own; kinds without the method frame Ethernet.
type framer interface{ framing() Framing }

// Framing is what a packet socket on an interface reads, which tells a
// capture whether and how to record it.
type Framing int

// The framings.
const (
	// FramingEthernet: Ethernet frames (veth, VLAN, macvlan, VXLAN, bond…).
	FramingEthernet Framing = iota
	// FramingIP: IP packets without a link-layer header (WireGuard).
	FramingIP
	// FramingNone: no traffic of its own worth recording; its ports or
	// members carry it (a bridge, a VRF) or it carries none (a dummy).
	FramingNone
)

// String returns "ethernet", "ip" or "none".
func (f Framing) String() string {
	switch f {
	case FramingEthernet:
		return "ethernet"
	case FramingIP:
		return "ip"
	case FramingNone:
		return "none"
	}
	return fmt.Sprintf("Framing(%d)", int(f))
}

// framingOf returns the framing of a kind; veth ends (nil) frame Ethernet.
func framingOf(k LinkKind) Framing {
	if f, ok := k.(framer); ok {
		return f.framing()
	}
	return FramingEthernet
}

// isL2Master reports whether interfaces enslaved to a kind lose their
// layer-3 role (bridge, bond), as opposed to a VRF.
func isL2Master(k LinkKind) bool {
	m, ok := k.(master)
	return ok && m.enslavesL2()
}

// isSwitcher reports whether a kind switches frames between its ports.
func isSwitcher(k LinkKind) bool {
	_, ok := k.(switcher)
	return ok
}
