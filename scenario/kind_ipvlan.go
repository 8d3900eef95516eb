package scenario

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// FeatureIPVlan is the ipvlan driver (module ipvlan).
const FeatureIPVlan Feature = "ipvlan"

var _ = defineFeature(FeatureIPVlan, featureDef{
	what: "creating an ipvlan link (module ipvlan)",
	try: func(_ netns.NsHandle, h *netlink.Handle) error {
		parent, err := probeVeth(h)
		if err != nil {
			return err
		}
		return h.LinkAdd(&netlink.IPVlan{LinkAttrs: netlink.LinkAttrs{Name: "probe2", ParentIndex: parent.Attrs().Index}, Mode: netlink.IPVLAN_MODE_L2})
	},
	kconfig: []string{"CONFIG_IPVLAN"},
	modules: []string{"ipvlan"},
})

// IPVlan is an interface sharing the MAC address of Parent ("eth0" in the
// same node, or "host:eth0"), switching by IP address.
type IPVlan struct {
	Parent string
	// Mode is "l2" (default) or "l3".
	Mode string
}

var ipvlanModes = map[string]netlink.IPVlanMode{"l2": netlink.IPVLAN_MODE_L2, "l3": netlink.IPVLAN_MODE_L3}

func (IPVlan) kindName() string     { return "ipvlan" }
func (IPVlan) feature() Feature     { return FeatureIPVlan }
func (v IPVlan) parentName() string { return v.Parent }
func (IPVlan) noUppers()            {}

func (v IPVlan) siblingMode(l netlink.Link) (string, bool) {
	mode := v.mode()
	if il, ok := l.(*netlink.IPVlan); ok {
		mode = "l3"
		if il.Mode == netlink.IPVLAN_MODE_L2 {
			mode = "l2"
		}
	}
	return mode, mode == "l2"
}

func (v IPVlan) mode() string {
	if v.Mode == "" {
		return "l2"
	}
	return v.Mode
}

func (v IPVlan) describe(*IfaceSpec) string {
	return fmt.Sprintf("ipvlan %s on %s", v.mode(), v.Parent)
}

func (v IPVlan) check(c *kindCheck) {
	if _, ok := ipvlanModes[v.mode()]; !ok {
		c.fail("ipvlan mode %q is not l2 or l3", "use l2 or l3", v.Mode)
	}
	c.iface.parent = c.ref(v.Parent, "parent")
	checkUpperParent(c)
}

func (v IPVlan) newLink(b *kindBuild) (netlink.Link, error) {
	attrs := b.attrs
	attrs.ParentIndex = b.parent.Attrs().Index
	return &netlink.IPVlan{LinkAttrs: attrs, Mode: ipvlanModes[v.mode()]}, nil
}
