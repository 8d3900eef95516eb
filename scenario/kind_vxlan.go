package scenario

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// FeatureVXLAN is VXLAN tunnels (module vxlan).
const FeatureVXLAN Feature = "vxlan"

var _ = defineFeature(FeatureVXLAN, featureDef{
	what: "creating a vxlan link (module vxlan)",
	try: func(_ netns.NsHandle, h *netlink.Handle) error {
		return h.LinkAdd(&netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, VxlanId: 42, Port: 4789})
	},
	kconfig: []string{"CONFIG_VXLAN"},
	modules: []string{"vxlan"},
})

// VXLAN is a VXLAN tunnel endpoint: an Ethernet segment carried in UDP
// over a routed underlay. Frames reach the Remotes (head-end replication
// through static all-zero FDB entries) or a multicast Group.
type VXLAN struct {
	// VNI is the VXLAN network identifier, 1..16777215.
	VNI int
	// Underlay is the interface of the node the tunnel runs over (its
	// "dev"); required with Group.
	Underlay string
	// Local is the source address of the tunnel; default: the underlay's
	// first address of the remotes' family.
	Local string
	// Remotes are the other endpoints' underlay addresses.
	Remotes []string
	// Group is a multicast group instead of Remotes.
	Group string
	// Port is the UDP destination port (default 4789, IANA).
	Port int
	// NoLearning turns off learning of remote MAC addresses on this end
	// (each VTEP is its own interface: learning is set per end).
	NoLearning bool
	// TTL is the outer IP header's TTL (hop limit), 1..255; 0 is the
	// kernel's default (the route's, 64; 1 toward a multicast group).
	TTL int
	// TOS is the outer IP header's TOS byte (DSCP and ECN), 0..255 but
	// not 1; InheritTOS copies the inner packet's TOS instead (tos
	// inherit, which the kernel encodes as 1).
	TOS        int
	InheritTOS bool
	// Ageing is how long a learned FDB entry lives unrefreshed, in whole
	// seconds; 0 is the kernel's 300 s.
	Ageing time.Duration
	// UDP checksums of the outer header are always on over IPv4 (the
	// kernel's default; the netlink library sends the attribute only to
	// turn them on, so "noudpcsum" is not offered).
	// FDB are static entries: frames for MAC go to the endpoint Remote.
	FDB []VXLANFDB
}

// VXLANFDB is a static VXLAN forwarding entry.
type VXLANFDB struct {
	MAC    string
	Remote string
}

// vxlanPlan is what validation resolves for building.
type vxlanPlan struct {
	local   netip.Addr
	remotes []netip.Addr
	group   netip.Addr
}

func (VXLAN) kindName() string     { return "vxlan" }
func (VXLAN) feature() Feature     { return FeatureVXLAN }
func (x VXLAN) parentName() string { return x.Underlay }

// A VXLAN comes up even when its underlay interface stays down: the
// underlay is only the device it sends from.
func (VXLAN) underlayFree() {}

// Its FDB entries name remote endpoints (the VXLANFDB step).
func (VXLAN) remoteFDB() {}

func (x VXLAN) port() int {
	if x.Port == 0 {
		return 4789
	}
	return x.Port
}

func (x VXLAN) describe(*IfaceSpec) string {
	s := fmt.Sprintf("vxlan vni %d port %d", x.VNI, x.port())
	if x.Underlay != "" {
		s += " dev " + x.Underlay
	}
	if x.TTL > 0 {
		s += fmt.Sprintf(" ttl %d", x.TTL)
	}
	if x.InheritTOS {
		s += " tos inherit"
	} else if x.TOS > 0 {
		s += fmt.Sprintf(" tos %#x", x.TOS)
	}
	if x.Ageing > 0 {
		s += fmt.Sprintf(" ageing %d", int(x.Ageing/time.Second))
	}
	if x.Group != "" {
		return s + " group " + x.Group
	}
	return s + " remotes " + strings.Join(x.Remotes, ",")
}

func (x VXLAN) check(c *kindCheck) {
	if x.VNI < 1 || x.VNI > 1<<24-1 {
		c.fail("VNI %d is out of range", "use 1..16777215", x.VNI)
	}
	if x.TTL < 0 || x.TTL > 255 {
		c.fail("TTL %d is out of range", "use 0 (default) or 1..255", x.TTL)
	}
	switch {
	case x.TOS < 0 || x.TOS > 255:
		c.fail("TOS %d is out of range", "use 0..255 (DSCP << 2 | ECN)", x.TOS)
	case x.TOS == 1:
		c.fail("TOS 1 is the kernel's code for inherit", "set InheritTOS to copy the inner TOS, or use another value")
	case x.InheritTOS && x.TOS != 0:
		c.fail("has both TOS %d and InheritTOS", "use one of them", x.TOS)
	}
	if x.Ageing < 0 || x.Ageing%time.Second != 0 || x.Ageing > time.Duration(1<<32-1)*time.Second {
		c.fail("ageing %v is not a whole number of seconds", "use 0 (300 s) or whole seconds like 30*time.Second", x.Ageing)
	}
	if x.Port < 0 || x.Port > 65535 {
		c.fail("port %d is out of range", "use 0 (4789) or 1..65535", x.Port)
	}
	xp := &vxlanPlan{}
	c.iface.data = xp
	if x.Underlay != "" {
		c.iface.parent = c.local(x.Underlay, "underlay")
	}
	switch {
	case len(x.Remotes) == 0 && x.Group == "":
		c.fail("has neither remotes nor a group", "list the other endpoints' underlay addresses in Remotes, or set Group")
	case len(x.Remotes) > 0 && x.Group != "":
		c.fail("has both remotes and a group", "use one of them")
	case x.Group != "":
		if g, ok := c.addr(x.Group, "group"); ok {
			if !g.IsMulticast() {
				c.fail("group %s is not a multicast address", "use an address like 239.1.1.1", g)
			}
			xp.group = g
		}
		if x.Underlay == "" {
			c.fail("has a multicast group but no underlay interface", "set Underlay")
		}
	}
	for _, r := range x.Remotes {
		if a, ok := c.addr(r, "remote"); ok {
			xp.remotes = append(xp.remotes, a)
		}
	}
	for _, e := range x.FDB {
		if _, err := net.ParseMAC(e.MAC); err != nil {
			c.fail("FDB entry %q is not a MAC address", "write it like 02:00:00:00:00:01", e.MAC)
		}
		c.addr(e.Remote, "FDB remote")
	}
	if x.Local != "" {
		if a, ok := c.addr(x.Local, "local address"); ok {
			xp.local = a
		}
	}
}

// checkAddrs checks the underlay once addresses are allocated: the node
// needs a source address of the remotes' family, and no remote may be its
// own.
func (x VXLAN) checkAddrs(c *kindCheck) {
	xp := c.iface.data.(*vxlanPlan)
	for _, r := range xp.remotes {
		if c.node.hasAddr(r) {
			c.fail("remote %s is the node's own address", "list the other endpoints' addresses", r)
		}
	}
	if !x.resolveLocal(c.iface).IsValid() {
		c.fail("has no underlay address to send from", "give the node (or Underlay) an address of the remotes' family: a VXLAN needs a routed underlay")
	}
}

// resolveLocal picks the source address: Local, or the underlay's (or the
// node's) first address of the remotes' family.
func (x VXLAN) resolveLocal(i *planIface) netip.Addr {
	xp := i.data.(*vxlanPlan)
	if xp.local.IsValid() {
		return xp.local
	}
	v4 := true
	if len(xp.remotes) > 0 {
		v4 = xp.remotes[0].Is4()
	} else if xp.group.IsValid() {
		v4 = xp.group.Is4()
	}
	src := i.node.allAddrs()
	if i.parent != nil {
		src = append(append([]netip.Prefix{}, i.parent.addrs...), src...)
	}
	for _, a := range src {
		if a.Addr().Is4() == v4 {
			return a.Addr()
		}
	}
	return netip.Addr{}
}

func (x VXLAN) newLink(b *kindBuild) (netlink.Link, error) {
	xp := b.iface.data.(*vxlanPlan)
	vx := &netlink.Vxlan{LinkAttrs: b.attrs, VxlanId: x.VNI, Port: x.port(), Learning: !x.NoLearning, TTL: x.TTL, TOS: x.TOS,
		Age: int(x.Ageing / time.Second)}
	if x.InheritTOS {
		vx.TOS = 1
	}
	if b.parent != nil {
		vx.VtepDevIndex = b.parent.Attrs().Index
	}
	if l := x.resolveLocal(b.iface); l.IsValid() {
		vx.SrcAddr = l.AsSlice()
	}
	if xp.group.IsValid() {
		vx.Group = xp.group.AsSlice()
	}
	return vx, nil
}

// configure adds the remotes as all-zero FDB entries (flooding goes to
// every one) and the static entries.
func (x VXLAN) configure(b *kindBuild, l netlink.Link) error {
	xp := b.iface.data.(*vxlanPlan)
	add := func(mac net.HardwareAddr, remote netip.Addr) error {
		err := b.node.nl.NeighAppend(&netlink.Neigh{LinkIndex: l.Attrs().Index, Family: unix.AF_BRIDGE, State: netlink.NUD_NOARP | netlink.NUD_PERMANENT,
			Flags: netlink.NTF_SELF, HardwareAddr: mac, IP: remote.AsSlice()})
		if err != nil {
			return fmt.Errorf("FDB entry %s dst %s: %w", mac, remote, err)
		}
		return nil
	}
	for _, r := range xp.remotes {
		if err := add(make(net.HardwareAddr, 6), r); err != nil {
			return err
		}
	}
	for _, e := range x.FDB {
		mac, _ := net.ParseMAC(e.MAC)
		if err := add(mac, netip.MustParseAddr(e.Remote)); err != nil {
			return err
		}
	}
	return nil
}
