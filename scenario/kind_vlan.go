package scenario

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// FeatureVLAN is 802.1Q and 802.1ad sub-interfaces (module 8021q).
const FeatureVLAN Feature = "vlan"

var _ = defineFeature(FeatureVLAN, featureDef{
	what: "creating an 802.1q link (module 8021q)",
	try: func(_ netns.NsHandle, h *netlink.Handle) error {
		parent, err := probeVeth(h)
		if err != nil {
			return err
		}
		return h.LinkAdd(&netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: "probe2", ParentIndex: parent.Attrs().Index}, VlanId: 10})
	},
	kconfig: []string{"CONFIG_VLAN_8021Q"},
	modules: []string{"8021q"},
})

// VLAN is an 802.1Q (or 802.1ad) sub-interface of Parent, an interface of
// the same node: a veth end, a bond, a bridge, or another VLAN (QinQ).
type VLAN struct {
	Parent string
	// ID is the VLAN ID, 1..4094.
	ID int
	// QinQ makes it an 802.1ad (service tag, 0x88a8) interface.
	QinQ bool
}

func (VLAN) kindName() string     { return "vlan" }
func (VLAN) feature() Feature     { return FeatureVLAN }
func (v VLAN) parentName() string { return v.Parent }

func (v VLAN) describe(*IfaceSpec) string {
	proto := "802.1q"
	if v.QinQ {
		proto = "802.1ad"
	}
	return fmt.Sprintf("vlan %d (%s) on %s", v.ID, proto, v.Parent)
}

func (v VLAN) check(c *kindCheck) {
	if !validVID(v.ID) {
		c.fail("VLAN ID %d is out of range", "use 1..4094", v.ID)
	}
	// Any interface may carry VLANs, bridge and bond ports included:
	// tagged frames go to the VLAN before the bridge sees them.
	c.iface.parent = c.local(v.Parent, "parent")
	for _, o := range c.node.ifaces {
		if w, ok := o.kind.(VLAN); ok && o != c.iface && w.Parent == v.Parent && w.ID == v.ID && w.QinQ == v.QinQ {
			c.fail("VLAN %d on %q is also %q", "declare each VLAN of a parent once", v.ID, v.Parent, o.name)
		}
	}
}

func (v VLAN) newLink(b *kindBuild) (netlink.Link, error) {
	attrs := b.attrs
	attrs.ParentIndex = b.parent.Attrs().Index
	proto := netlink.VLAN_PROTOCOL_8021Q
	if v.QinQ {
		proto = netlink.VLAN_PROTOCOL_8021AD
	}
	return &netlink.Vlan{LinkAttrs: attrs, VlanId: v.ID, VlanProtocol: proto}, nil
}
