package scenario

import (
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// FeatureVRF is the VRF driver (module vrf).
const FeatureVRF Feature = "vrf"

var _ = defineFeature(FeatureVRF, featureDef{
	what: "creating a vrf link (module vrf)",
	try: func(_ netns.NsHandle, h *netlink.Handle) error {
		return h.LinkAdd(&netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, Table: 10})
	},
	kconfig: []string{"CONFIG_NET_VRF"},
	modules: []string{"vrf"},
})

// VRF is a virtual routing and forwarding domain in a node: the interfaces
// named with Members use its routing table. Segments touching a VRF may
// overlap other segments (that is what VRFs are for).
type VRF struct {
	// Table is the VRF's routing table (1..2^32-1, not 253-255).
	Table int
}

func (VRF) kindName() string { return "vrf" }
func (VRF) feature() Feature { return FeatureVRF }

// A VRF holds interfaces that keep their addresses; it cannot carry a
// macvlan or ipvlan, and its members carry its traffic.
func (VRF) enslavesL2() bool { return false }
func (VRF) noUppers()        {}
func (VRF) framing() Framing { return FramingNone }

func (v VRF) describe(i *IfaceSpec) string {
	return fmt.Sprintf("vrf table %d: %s", v.Table, strings.Join(i.members, ", "))
}

func (v VRF) check(c *kindCheck) {
	if v.Table <= 0 || v.Table == 253 || v.Table == 254 || v.Table == 255 || int64(v.Table) > 1<<32-1 {
		c.fail("table %d is not a usable table", "use a table number other than 0 and 253..255 (local, main, default)", v.Table)
	}
	for _, o := range c.node.ifaces {
		if w, ok := o.kind.(VRF); ok && o != c.iface && w.Table == v.Table {
			c.fail("table %d is also the table of VRF %q", "give each VRF its own table", v.Table, o.name)
		}
	}
}

func (v VRF) newLink(kb *kindBuild) (netlink.Link, error) {
	return &netlink.Vrf{LinkAttrs: kb.attrs, Table: uint32(v.Table)}, nil
}
