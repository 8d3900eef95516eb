package scenario

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// FeatureMacvlan is macvlan in bridge mode between the ports of a parent
// (module macvlan).
const FeatureMacvlan Feature = "macvlan"

var _ = defineFeature(FeatureMacvlan, featureDef{
	what: "creating a macvlan link (module macvlan)",
	try: func(_ netns.NsHandle, h *netlink.Handle) error {
		parent, err := probeVeth(h)
		if err != nil {
			return err
		}
		return h.LinkAdd(&netlink.Macvlan{LinkAttrs: netlink.LinkAttrs{Name: "probe2", ParentIndex: parent.Attrs().Index}, Mode: netlink.MACVLAN_MODE_BRIDGE})
	},
	kconfig: []string{"CONFIG_MACVLAN"},
	modules: []string{"macvlan"},
})

// Macvlan is an interface with a MAC address of its own on Parent: an
// interface of the same node ("eth0") or of another node ("host:eth0"),
// the usual setup for a container on a host's NIC.
type Macvlan struct {
	Parent string
	// Mode is "bridge" (default), "private", "vepa" or "passthru".
	Mode string
}

var macvlanModes = map[string]netlink.MacvlanMode{
	"bridge":   netlink.MACVLAN_MODE_BRIDGE,
	"private":  netlink.MACVLAN_MODE_PRIVATE,
	"vepa":     netlink.MACVLAN_MODE_VEPA,
	"passthru": netlink.MACVLAN_MODE_PASSTHRU,
}

func (Macvlan) kindName() string     { return "macvlan" }
func (Macvlan) feature() Feature     { return FeatureMacvlan }
func (m Macvlan) parentName() string { return m.Parent }
func (Macvlan) noUppers()            {}

func (m Macvlan) siblingMode(l netlink.Link) (string, bool) {
	mode := m.mode()
	if ml, ok := l.(*netlink.Macvlan); ok {
		for name, v := range macvlanModes {
			if v == ml.Mode {
				mode = name
			}
		}
		if ml.Mode == netlink.MACVLAN_MODE_SOURCE {
			mode = "source"
		}
	}
	return mode, mode == "bridge"
}

func (m Macvlan) mode() string {
	if m.Mode == "" {
		return "bridge"
	}
	return m.Mode
}

func (m Macvlan) describe(*IfaceSpec) string {
	return fmt.Sprintf("macvlan %s on %s", m.mode(), m.Parent)
}

func (m Macvlan) check(c *kindCheck) {
	if _, ok := macvlanModes[m.mode()]; !ok {
		c.fail("macvlan mode %q is not one of bridge, private, vepa, passthru", "use one of those", m.Mode)
	}
	c.iface.parent = c.ref(m.Parent, "parent")
	checkUpperParent(c)
}

// checkUpperParent refuses a parent that is a bridge or bond port, or of a
// kind that cannot hold a macvlan or ipvlan.
func checkUpperParent(c *kindCheck) {
	p := c.iface.parent
	if p == nil {
		return
	}
	if p.l2 {
		c.fail("parent %s:%s is a port of %q", "use the bridge or bond itself as parent", p.node.spec.name, p.name, p.master.name)
	}
	if _, ok := p.kind.(noUppers); ok {
		c.fail("parent %s:%s is a %s", "use a veth end, bond, bridge or VLAN as parent", p.node.spec.name, p.name, p.kind.kindName())
	}
}

func (m Macvlan) newLink(b *kindBuild) (netlink.Link, error) {
	attrs := b.attrs
	attrs.ParentIndex = b.parent.Attrs().Index
	return &netlink.Macvlan{LinkAttrs: attrs, Mode: macvlanModes[m.mode()]}, nil
}
