package scenario

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// FeatureVeth is veth pairs, what every Link is (module veth).
const FeatureVeth Feature = "veth"

var _ = defineFeature(FeatureVeth, featureDef{
	what: "creating a veth pair",
	try: func(_ netns.NsHandle, h *netlink.Handle) error {
		_, err := probeVeth(h)
		return err
	},
	kconfig: []string{"CONFIG_VETH"},
	modules: []string{"veth"},
})

// veth is the kind of both ends of a Link: a veth pair, created once for
// the two ends, across namespaces.
type veth struct{}

func (veth) kindName() string             { return "veth" }
func (veth) feature() Feature             { return FeatureVeth }
func (veth) check(*kindCheck)             {}
func (veth) describe(i *IfaceSpec) string { return "veth" }

// newLink returns the pair for the link of b.iface, the end that is
// created first; the other end is created with it in its own namespace.
func (veth) newLink(b *kindBuild) (netlink.Link, error) {
	pl := b.iface.link
	a, z := b.iface, b.iface.peer
	na, nz := b.n.nodes[a.node.spec.name], b.n.nodes[z.node.spec.name]
	attrs := b.attrs
	attrs.MTU = pl.spec.mtu
	attrs.NumTxQueues, attrs.NumRxQueues = max(1, pl.spec.queues), max(1, pl.spec.queues)
	v := &netlink.Veth{LinkAttrs: attrs, PeerName: z.name}
	setVethEnds(v, a, z, pl.spec.mtu)
	if na != nz {
		v.PeerNamespace = netlink.NsFd(int(nz.ns))
	}
	// Enslaved to a bridge and up in the same request when possible; a
	// bond wants its members down when they join, and a VRF gets them in
	// finish too.
	switch {
	case na.bridge != nil:
		v.MasterIndex = na.bridge.Index
	case a.master != nil && isSwitcher(a.master.kind):
		v.MasterIndex = na.Interface(a.master.name).Index
	case a.master != nil:
		return v, nil
	}
	if a.expectUp() {
		v.Flags = net.FlagUp
	}
	return v, nil
}

// createLink creates the veth pair of a link and sets up both ends: bridge
// port of a switch, master inside the node, addresses, up, delay.
func (n *Network) createLink(pl *planLink) error {
	a, z := pl.a, pl.b
	// Create from the bridge side so that the port is enslaved at once.
	if bridged(z) && !bridged(a) {
		a, z = z, a
	}
	na, nz := n.nodes[a.node.spec.name], n.nodes[z.node.spec.name]
	b := &kindBuild{n: n, node: na, on: na, iface: a, attrs: netlink.LinkAttrs{Name: a.name}}
	l, err := veth{}.newLink(b)
	if err != nil {
		return err
	}
	if err := na.nl.LinkAdd(l); err != nil {
		return fmt.Errorf("create veth %s:%s—%s:%s: %w", na.name, a.name, nz.name, z.name, err)
	}
	peer, err := nz.nl.LinkByName(z.name)
	if err != nil {
		return fmt.Errorf("find veth peer %q in node %q: %w", z.name, nz.name, err)
	}
	if err := nz.setPeerGroup(z, peer); err != nil {
		return err
	}
	if nz.bridge != nil {
		if err := nz.nl.LinkSetMasterByIndex(peer, nz.bridge.Index); err != nil {
			return fmt.Errorf("attach %q to bridge %q in node %q: %w", z.name, nz.bridge.Name, nz.name, err)
		}
	}
	ia, err := na.finish(n, a, l)
	if err != nil {
		return err
	}
	iz, err := nz.finish(n, z, peer)
	if err != nil {
		return err
	}
	ia.PeerNode, ia.PeerInterface = nz.name, z.name
	iz.PeerNode, iz.PeerInterface = na.name, a.name
	if d := pl.spec.delay; d > 0 {
		if err := na.addDelay(ia.Index, d); err != nil {
			return err
		}
		if err := nz.addDelay(iz.Index, d); err != nil {
			return err
		}
	}
	return nil
}

// bridged reports whether a link end is a bridge port: of a switch, or of
// a bridge inside its node.
func bridged(i *planIface) bool {
	return i.node.spec.kind == RoleSwitch || i.master != nil && isSwitcher(i.master.kind)
}
