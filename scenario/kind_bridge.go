package scenario

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The bridge's features.
const (
	// FeatureBridge is the Linux bridge (module bridge): a switch node, or
	// a Bridge interface.
	FeatureBridge Feature = "bridge"
	// FeatureBridgeVLAN is a bridge with VLAN filtering
	// (CONFIG_BRIDGE_VLAN_FILTERING).
	FeatureBridgeVLAN Feature = "bridge-vlan"
)

var _ = defineFeature(FeatureBridge, featureDef{
	what: "creating a bridge",
	try: func(_ netns.NsHandle, h *netlink.Handle) error {
		return h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}})
	},
	kconfig: []string{"CONFIG_BRIDGE"},
	modules: []string{"bridge"},
})

var _ = defineFeature(FeatureBridgeVLAN, featureDef{
	what: "turning on VLAN filtering on a bridge (CONFIG_BRIDGE_VLAN_FILTERING)",
	try: func(_ netns.NsHandle, h *netlink.Handle) error {
		on := true
		err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, VlanFiltering: &on})
		if err != nil {
			return err
		}
		l, err := h.LinkByName("probe0")
		if err != nil {
			return err
		}
		if b, ok := l.(*netlink.Bridge); !ok || b.VlanFiltering == nil || !*b.VlanFiltering {
			return fmt.Errorf("vlan_filtering did not stay on: %w", unix.EOPNOTSUPP)
		}
		return nil
	},
	kconfig: []string{"CONFIG_BRIDGE", "CONFIG_BRIDGE_VLAN_FILTERING"},
	modules: []string{"bridge"},
})

// Bridge is a Linux bridge inside a host or router node; interfaces of the
// node become its ports with Port or Members. The zero value is a bridge
// with the kernel's defaults: no VLAN filtering, STP off, learning,
// flooding and multicast snooping on.
type Bridge struct {
	// VLANFiltering makes the bridge VLAN-aware: ports carry the VLANs of
	// their BridgePort options.
	VLANFiltering bool
	// DefaultPVID is the VLAN ports without options join untagged (the
	// kernel's default is 1). Needs VLANFiltering.
	DefaultPVID int
	// AgeingTime is how long learned addresses stay; 0 is the kernel's
	// default (300 s).
	AgeingTime time.Duration
	// STP turns on the spanning tree protocol; a loop of bridges is then
	// allowed. ForwardDelay is the listening and learning time (default,
	// and minimum, 2 s: ports forward about 4 s after the build).
	STP          bool
	ForwardDelay time.Duration
	// NoMulticastSnooping turns IGMP/MLD snooping off.
	NoMulticastSnooping bool
	// FDB are static forwarding entries.
	FDB []FDBEntry
}

// BridgePort are the options of one bridge port.
type BridgePort struct {
	// PVID is the VLAN untagged frames arriving on the port join; frames
	// of that VLAN leave it untagged. 0 keeps the bridge's default PVID.
	PVID int
	// VLANs are VLANs the port carries tagged.
	VLANs []int
	// Untagged are VLANs the port carries untagged (besides PVID).
	Untagged []int
	// NoLearning, NoFlood and NoMulticastFlood turn off address learning,
	// unknown-unicast flooding and multicast flooding on the port.
	NoLearning, NoFlood, NoMulticastFlood bool
	// Isolated ports do not forward to each other, only to other ports.
	Isolated bool
}

// FDBEntry is a static entry of a bridge's forwarding database: frames for
// MAC leave through Port (in VLAN, when the bridge filters VLANs), like
// bridge fdb add MAC dev PORT master static [vlan VLAN]. It is a
// forwarding entry that never ages, not a local one: frames for MAC are
// not delivered to the bridge itself.
type FDBEntry struct {
	MAC  string
	Port string
	VLAN int
}

func (Bridge) kindName() string { return "bridge" }

// A bridge switches frames between its layer-2 ports, which carry its
// traffic.
func (Bridge) enslavesL2() bool      { return true }
func (b Bridge) stp() bool           { return b.STP }
func (b Bridge) vlanFiltering() bool { return b.VLANFiltering }
func (Bridge) framing() Framing      { return FramingNone }

func (b Bridge) feature() Feature {
	if b.VLANFiltering {
		return FeatureBridgeVLAN
	}
	return FeatureBridge
}

func (b Bridge) describe(i *IfaceSpec) string {
	var parts []string
	parts = append(parts, "bridge")
	if b.VLANFiltering {
		parts = append(parts, "vlan_filtering")
	}
	if b.STP {
		parts = append(parts, "stp")
	}
	for _, p := range i.ports {
		s := p.name
		if p.opts.PVID != 0 {
			s += fmt.Sprintf(" pvid %d", p.opts.PVID)
		}
		if len(p.opts.VLANs) > 0 {
			s += fmt.Sprintf(" tagged %v", p.opts.VLANs)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func validVID(v int) bool { return v >= 1 && v <= 4094 }

func (b Bridge) check(c *kindCheck) {
	if b.DefaultPVID != 0 && (!b.VLANFiltering || !validVID(b.DefaultPVID)) {
		c.fail("default PVID %d is invalid or set without VLAN filtering", "set VLANFiltering and use a VLAN ID in 1..4094", b.DefaultPVID)
	}
	if b.AgeingTime < 0 || b.AgeingTime > 1000000*time.Second {
		c.fail("ageing time %v is out of range", "use 0 (default) up to 1000000s", b.AgeingTime)
	}
	if b.ForwardDelay != 0 && (!b.STP || b.ForwardDelay < 2*time.Second || b.ForwardDelay > 30*time.Second) {
		c.fail("forward delay %v is invalid or set without STP", "set STP and use 2s..30s", b.ForwardDelay)
	}
	for _, p := range c.iface.spec.ports {
		vids := append(append([]int{p.opts.PVID}, p.opts.VLANs...), p.opts.Untagged...)
		for k, v := range vids {
			if k == 0 && v == 0 {
				continue
			}
			if !validVID(v) {
				c.fail("port %q: VLAN %d is out of range", "use VLAN IDs 1..4094", p.name, v)
			} else if !b.VLANFiltering {
				c.fail("port %q has VLANs but the bridge does not filter VLANs", "set VLANFiltering: true", p.name)
				break
			}
		}
	}
	for _, e := range b.FDB {
		if _, err := net.ParseMAC(e.MAC); err != nil {
			c.fail("FDB entry %q is not a MAC address", "write it like 02:00:00:00:00:01", e.MAC)
		}
		if pi := c.node.iface(e.Port); pi == nil || pi.master != c.iface {
			c.fail("FDB entry %s: %q is not a port of the bridge", "name one of its ports", e.MAC, e.Port)
		}
		if e.VLAN != 0 && (!b.VLANFiltering || !validVID(e.VLAN)) {
			c.fail("FDB entry %s: VLAN %d is invalid or set without VLAN filtering", "set VLANFiltering and use 1..4094", e.MAC, e.VLAN)
		}
	}
}

func (b Bridge) newLink(kb *kindBuild) (netlink.Link, error) {
	br := &netlink.Bridge{LinkAttrs: kb.attrs}
	if b.VLANFiltering {
		on := true
		br.VlanFiltering = &on
		if b.DefaultPVID != 0 {
			pvid := uint16(b.DefaultPVID)
			br.VlanDefaultPVID = &pvid
		}
	}
	if b.AgeingTime != 0 {
		t := uint32(b.AgeingTime / (10 * time.Millisecond)) // centiseconds
		br.AgeingTime = &t
	}
	if b.NoMulticastSnooping {
		off := false
		br.MulticastSnooping = &off
	}
	return br, nil
}

// postCreate turns STP on before any port is enslaved, so that every
// port goes through listening and learning.
func (b Bridge) postCreate(kb *kindBuild, l netlink.Link) error {
	if b.STP {
		fd := b.ForwardDelay
		if fd == 0 {
			fd = 2 * time.Second
		}
		err := kb.node.do(func() error {
			req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_ACK)
			msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
			msg.Index = int32(l.Attrs().Index)
			req.AddData(msg)
			info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
			info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("bridge"))
			data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
			data.AddRtAttr(nl.IFLA_BR_FORWARD_DELAY, nl.Uint32Attr(uint32(fd/(10*time.Millisecond))))
			data.AddRtAttr(nl.IFLA_BR_STP_STATE, nl.Uint32Attr(1))
			req.AddData(info)
			_, err := req.Execute(unix.NETLINK_ROUTE, 0)
			return err
		})
		if err != nil {
			return fmt.Errorf("turn STP on: %w", err)
		}
	}
	return nil
}

// Bridge port states (IFLA_BRPORT_STATE).
const (
	brStateListening  = 1
	brStateLearning   = 2
	brStateForwarding = 3
	brStateBlocking   = 4
)

// waitReady waits, on a bridge running STP, until every port that should
// be up has left the listening and learning states (about twice the
// forward delay): only then does the topology carry traffic.
func (b Bridge) waitReady(ctx context.Context, kb *kindBuild) error {
	if !b.STP {
		return nil
	}
	want := map[int]string{}
	for _, p := range kb.iface.node.ifaces {
		if p.master == kb.iface && p.expectUp() {
			want[kb.node.Interface(p.name).Index] = p.name
		}
	}
	return poll(ctx, func() (bool, error) {
		ports, err := kb.node.BridgePorts()
		if err != nil {
			return false, fmt.Errorf("node %q: bridge %q: read port states: %w", kb.node.name, kb.iface.name, err)
		}
		for idx, name := range want {
			if st := ports[idx].stp; st != brStateForwarding && st != brStateBlocking {
				if ctx.Err() != nil {
					return false, fmt.Errorf("node %q: STP port %q still in state %d: %w", kb.node.name, name, st, ctx.Err())
				}
				return false, nil
			}
		}
		return true, nil
	})
}

// fdbStatic is the state of a static forwarding entry, as iproute2's
// "bridge fdb add … static" sends it: NUD_NOARP makes the kernel's entry
// static (it never ages); NUD_PERMANENT would make it local instead, an
// entry for the bridge's own address that delivers frames to the bridge
// and forwards them through no port.
const fdbStatic = netlink.NUD_NOARP | netlink.NUD_REACHABLE

// configure adds the static FDB entries, once the ports exist.
func (b Bridge) configure(kb *kindBuild, l netlink.Link) error {
	for _, e := range b.FDB {
		port := kb.node.Interface(e.Port)
		mac, _ := net.ParseMAC(e.MAC)
		err := kb.node.nl.NeighAdd(&netlink.Neigh{LinkIndex: port.Index, Family: unix.AF_BRIDGE, State: fdbStatic,
			Flags: netlink.NTF_MASTER, HardwareAddr: mac, Vlan: e.VLAN})
		if err != nil {
			return fmt.Errorf("static FDB entry %s on %s: %w", e.MAC, e.Port, err)
		}
	}
	return nil
}

// configurePort applies a port's VLANs and flags once it is enslaved.
func (b Bridge) configurePort(kb *kindBuild, port *planIface, l netlink.Link) error {
	h := kb.node.nl
	if p := port.port; p != nil {
		if b.VLANFiltering && (p.PVID != 0 || len(p.VLANs) > 0 || len(p.Untagged) > 0) {
			def := b.DefaultPVID
			if def == 0 {
				def = 1
			}
			keep := p.PVID == def
			for _, v := range append(p.VLANs, p.Untagged...) {
				keep = keep || v == def
			}
			if !keep {
				if err := h.BridgeVlanDel(l, uint16(def), true, true, false, true); err != nil {
					return fmt.Errorf("remove default VLAN %d: %w", def, err)
				}
			}
			for _, v := range p.VLANs {
				if err := h.BridgeVlanAdd(l, uint16(v), false, false, false, true); err != nil {
					return fmt.Errorf("VLAN %d: %w", v, err)
				}
			}
			for _, v := range p.Untagged {
				if err := h.BridgeVlanAdd(l, uint16(v), false, true, false, true); err != nil {
					return fmt.Errorf("untagged VLAN %d: %w", v, err)
				}
			}
			if p.PVID != 0 {
				if err := h.BridgeVlanAdd(l, uint16(p.PVID), true, true, false, true); err != nil {
					return fmt.Errorf("PVID %d: %w", p.PVID, err)
				}
			}
		}
		if p.NoLearning {
			if err := h.LinkSetLearning(l, false); err != nil {
				return fmt.Errorf("learning off: %w", err)
			}
		}
		if p.NoFlood {
			if err := h.LinkSetFlood(l, false); err != nil {
				return fmt.Errorf("flooding off: %w", err)
			}
		}
		if p.Isolated {
			if err := h.LinkSetIsolated(l, true); err != nil {
				return fmt.Errorf("isolated: %w", err)
			}
		}
		if p.NoMulticastFlood {
			err := kb.node.do(func() error {
				req := nl.NewNetlinkRequest(unix.RTM_SETLINK, unix.NLM_F_ACK)
				msg := nl.NewIfInfomsg(unix.AF_BRIDGE)
				msg.Index = int32(l.Attrs().Index)
				req.AddData(msg)
				pi := nl.NewRtAttr(unix.IFLA_PROTINFO|unix.NLA_F_NESTED, nil)
				pi.AddRtAttr(nl.IFLA_BRPORT_MCAST_FLOOD, []byte{0})
				req.AddData(pi)
				_, err := req.Execute(unix.NETLINK_ROUTE, 0)
				return err
			})
			if err != nil {
				return fmt.Errorf("multicast flooding off: %w", err)
			}
		}
	}
	return nil
}
