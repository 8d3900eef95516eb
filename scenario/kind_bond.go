package scenario

import (
	"fmt"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// FeatureBond is link aggregation (module bonding).
const FeatureBond Feature = "bond"

var _ = defineFeature(FeatureBond, featureDef{
	what: "creating a bond (module bonding)",
	try: func(_ netns.NsHandle, h *netlink.Handle) error {
		return h.LinkAdd(netlink.NewLinkBond(netlink.LinkAttrs{Name: "probe0"}))
	},
	kconfig: []string{"CONFIG_BONDING"},
	modules: []string{"bonding"},
})

// Bond aggregates interfaces of its node, named with Members, into one
// link. The members are ports: they carry no address; the bond does.
type Bond struct {
	// Mode is "active-backup", "balance-xor" or "802.3ad"
	// (default active-backup).
	Mode string
	// Miimon is the link monitoring interval (default 100 ms; the kernel
	// rounds to milliseconds).
	Miimon time.Duration
}

var bondModes = map[string]netlink.BondMode{
	"active-backup": netlink.BOND_MODE_ACTIVE_BACKUP,
	"balance-xor":   netlink.BOND_MODE_BALANCE_XOR,
	"802.3ad":       netlink.BOND_MODE_802_3AD,
}

func (Bond) kindName() string { return "bond" }
func (Bond) feature() Feature { return FeatureBond }

// A bond's members are layer-2 ports.
func (Bond) enslavesL2() bool { return true }
func (b Bond) mode() string {
	if b.Mode == "" {
		return "active-backup"
	}
	return b.Mode
}

func (b Bond) describe(i *IfaceSpec) string {
	return fmt.Sprintf("bond %s of %s", b.mode(), strings.Join(i.members, ", "))
}

func (b Bond) check(c *kindCheck) {
	if _, ok := bondModes[b.mode()]; !ok {
		c.fail("bond mode %q is not supported", "use active-backup, balance-xor or 802.3ad", b.Mode)
	}
	if b.Miimon < 0 || b.Miimon > time.Minute {
		c.fail("miimon %v is out of range", "use 0 (100ms) up to 1m", b.Miimon)
	}
	if len(c.iface.spec.members) == 0 {
		c.fail("has no members", "name the interfaces it aggregates with Members")
	}
	// Members must be veth ends leading to one peer node: a bond spans one
	// link partner.
	peer := ""
	for _, name := range c.iface.spec.members {
		m := c.node.iface(name)
		if m == nil || m.peer == nil {
			continue
		}
		if peer == "" {
			peer = m.peer.node.spec.name
		} else if m.peer.node.spec.name != peer {
			c.fail("members lead to different nodes (%s and %s)", "link every member to the same partner node", peer, m.peer.node.spec.name)
			break
		}
	}
}

func (b Bond) newLink(kb *kindBuild) (netlink.Link, error) {
	bond := netlink.NewLinkBond(kb.attrs)
	bond.Mode = bondModes[b.mode()]
	bond.Miimon = 100
	if b.Miimon > 0 {
		bond.Miimon = int(b.Miimon / time.Millisecond)
	}
	return bond, nil
}
