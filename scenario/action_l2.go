package scenario

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The layer-2 steps of kernel selftests: bridge VLANs of a port, FDB
// entries, VXLAN FDB entries, enslaving and releasing ports. Each reads
// the kernel's state back after the change and says in its evidence what
// the kernel reported.

// FDBKind is the kind of a bridge FDB entry a step adds.
type FDBKind string

// The kinds of FDB entries FDBAdd installs.
const (
	// FDBStatic forwards frames for the MAC through the port and never
	// ages (bridge fdb add … master static).
	FDBStatic FDBKind = "static"
	// FDBLocal delivers frames for the MAC to the bridge itself (bridge
	// fdb add … master local).
	FDBLocal FDBKind = "local"
	// FDBExternLearn is an entry an external learner (a switch driver, a
	// control plane) added: it forwards like a learned one but the bridge
	// does not age it out (bridge fdb add … master extern_learn).
	FDBExternLearn FDBKind = "extern_learn"
	// FDBLearned is an entry the bridge learned from a frame's source
	// address (reported, never added by a step).
	FDBLearned FDBKind = "learned"
)

// FDB is a bridge forwarding entry a step adds or deletes: MAC in VLAN
// (0: none; needs a VLAN-filtering bridge otherwise), of Kind (default
// FDBStatic).
type FDB struct {
	MAC  string
	VLAN int
	Kind FDBKind
}

func (e FDB) kind() FDBKind {
	if e.Kind == "" {
		return FDBStatic
	}
	return e.Kind
}

func (e FDB) String() string {
	s := e.MAC
	if e.VLAN != 0 {
		s += fmt.Sprintf(" vlan %d", e.VLAN)
	}
	return s + " " + string(e.kind())
}

// FDBAdd adds an entry to the FDB of the bridge a port ("node:port")
// belongs to, like bridge fdb add MAC dev PORT master KIND [vlan VID].
// It returns once the kernel lists the entry.
func FDBAdd(port string, e FDB) Action { return fdbAction{port: port, e: e, add: true} }

// FDBDel deletes such an entry (the Kind is not needed), like bridge fdb
// del MAC dev PORT master [vlan VID]; it returns once the kernel no
// longer lists it.
func FDBDel(port string, e FDB) Action { return fdbAction{port: port, e: e} }

type fdbAction struct {
	port string
	e    FDB
	add  bool
}

func (a fdbAction) String() string {
	if a.add {
		return fmt.Sprintf("add FDB entry %s on %s", a.e, a.port)
	}
	return fmt.Sprintf("delete FDB entry %s from %s", strings.TrimSuffix(a.e.String(), " "+string(a.e.kind())), a.port)
}

func (a fdbAction) validate(v *validator, p *plan, obj string) {
	v.end(p, obj, a.port)
	if _, err := net.ParseMAC(a.e.MAC); err != nil {
		v.add(obj, "FDB entry %q is not a MAC address", "write it like 02:00:00:00:00:01", a.e.MAC)
	}
	switch a.e.kind() {
	case FDBStatic, FDBLocal, FDBExternLearn:
	default:
		v.add(obj, "FDB kind %q is unknown", "use FDBStatic, FDBLocal or FDBExternLearn", a.e.Kind)
	}
	br := v.bridgeOf(p, obj, a.port)
	if a.e.VLAN != 0 && !validVID(a.e.VLAN) {
		v.add(obj, "FDB entry %s: VLAN %d is out of range", "use 1..4094", a.e.MAC, a.e.VLAN)
	} else if a.e.VLAN != 0 && br != nil && !br.vlanFiltering() {
		v.add(obj, "FDB entry %s: VLAN %d on a bridge that does not filter VLANs", "set VLANFiltering on the bridge, or drop the VLAN", a.e.MAC, a.e.VLAN)
	}
}

// bridgeOf validates that end is a port of a bridge, declared or enslaved
// by an earlier Enslave step, and returns the bridge's options when they
// are known.
func (v *validator) bridgeOf(p *plan, obj, end string) switcher {
	node, iface, _ := strings.Cut(end, ":")
	pn := p.node(node)
	if pn == nil {
		return nil
	}
	pi := pn.iface(iface)
	if pi == nil {
		return nil
	}
	if pi.master != nil {
		if b, ok := pi.master.kind.(switcher); ok {
			return b
		}
		v.add(obj, "%q is enslaved to %q, not to a bridge", "name a port of a bridge", end, pi.master.name)
		return nil
	}
	if pi.link != nil && pn.bridge != "" {
		return Bridge{} // a switch's port
	}
	if v.direct {
		return nil // maybe enslaved by an earlier Apply: checked when run
	}
	for _, c := range v.s.checks {
		if ea, ok := c.Action.(enslave); ok && ea.end == end && ea.master != "" {
			if mi := pn.iface(ea.master); mi != nil {
				if b, ok := mi.kind.(switcher); ok {
					return b
				}
			}
			return nil
		}
	}
	v.add(obj, "%q is not a bridge port", "make it a member of a bridge (Members, or an Enslave step before this one)", end)
	return nil
}

func (a fdbAction) Run(ctx context.Context, n *Network) error {
	_, err := a.report(ctx, n)
	return err
}

func (a fdbAction) report(ctx context.Context, n *Network) (string, error) {
	nd, _, l, err := n.end(a.port)
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) { return "", fmt.Errorf("%s: %w", a, err) }
	if l.Attrs().MasterIndex == 0 {
		return fail(fmt.Errorf("%s is not a bridge port", a.port))
	}
	mac, err := net.ParseMAC(a.e.MAC)
	if err != nil {
		return fail(err)
	}
	ne := &netlink.Neigh{LinkIndex: l.Attrs().Index, Family: unix.AF_BRIDGE, Flags: netlink.NTF_MASTER, HardwareAddr: mac, Vlan: a.e.VLAN}
	if !a.add {
		if err := nd.nl.NeighDel(ne); err != nil {
			return fail(err)
		}
		if e, err := fdbFind(nd, l.Attrs().Index, mac, a.e.VLAN); err != nil {
			return fail(err)
		} else if e != nil {
			return fail(fmt.Errorf("the kernel still lists it: %s", fdbDescribe(*e)))
		}
		return "the kernel no longer lists it", nil
	}
	switch a.e.kind() {
	case FDBStatic:
		ne.State = fdbStatic
	case FDBLocal:
		ne.State = netlink.NUD_NOARP | netlink.NUD_PERMANENT
	case FDBExternLearn:
		ne.State = netlink.NUD_REACHABLE
		ne.Flags |= netlink.NTF_EXT_LEARNED
	default:
		return fail(fmt.Errorf("unknown kind %q", a.e.Kind))
	}
	if err := nd.nl.NeighAdd(ne); err != nil {
		return fail(err)
	}
	e, err := fdbFind(nd, l.Attrs().Index, mac, a.e.VLAN)
	if err != nil {
		return fail(err)
	}
	if e == nil {
		return fail(fmt.Errorf("the kernel does not list it after adding it"))
	}
	if got := FDBKindOf(*e); got != a.e.kind() {
		return fail(fmt.Errorf("the kernel lists it as %s: %s", got, fdbDescribe(*e)))
	}
	return "the kernel lists " + fdbDescribe(*e), nil
}

// fdbFind returns the bridge (master) FDB entry for mac in vlan on a port.
func fdbFind(nd *Node, index int, mac net.HardwareAddr, vlan int) (*netlink.Neigh, error) {
	es, err := nd.nl.NeighList(index, unix.AF_BRIDGE)
	if err != nil {
		return nil, fmt.Errorf("read the FDB: %w", err)
	}
	for _, e := range es {
		if e.LinkIndex == index && e.Flags&netlink.NTF_SELF == 0 && e.HardwareAddr.String() == mac.String() && e.Vlan == vlan {
			return &e, nil
		}
	}
	return nil, nil
}

// FDBKindOf says what kind a bridge forwarding entry is, from its state
// and flags as the kernel reports them (br_fdb.c: fdb_fill_info), in the
// words bridge fdb show uses.
func FDBKindOf(e netlink.Neigh) FDBKind {
	switch {
	case e.Flags&netlink.NTF_EXT_LEARNED != 0:
		return FDBExternLearn
	case e.State&netlink.NUD_PERMANENT != 0:
		return FDBLocal
	case e.State&netlink.NUD_NOARP != 0:
		return FDBStatic
	}
	return FDBLearned
}

func fdbDescribe(e netlink.Neigh) string {
	s := e.HardwareAddr.String()
	if e.Vlan != 0 {
		s += fmt.Sprintf(" vlan %d", e.Vlan)
	}
	if e.IP != nil {
		s += " dst " + e.IP.String()
	}
	return s + " " + string(FDBKindOf(e))
}

// VXLANFDBAppend appends an entry to a VXLAN device's own FDB
// ("node:vxlan"): frames for mac are sent to the endpoint remote; the
// all-zeros MAC 00:00:00:00:00:00 adds remote to the endpoints unknown
// and broadcast frames are flooded to (head-end replication). Like
// bridge fdb append MAC dev VXLAN dst REMOTE self permanent. It returns
// once the kernel lists the entry.
func VXLANFDBAppend(vxlan, mac, remote string) Action {
	return vxlanFDB{end: vxlan, mac: mac, remote: remote, add: true}
}

// VXLANFDBDel deletes the entry for mac towards remote from a VXLAN
// device's FDB, like bridge fdb del MAC dev VXLAN dst REMOTE self.
func VXLANFDBDel(vxlan, mac, remote string) Action {
	return vxlanFDB{end: vxlan, mac: mac, remote: remote}
}

type vxlanFDB struct {
	end, mac, remote string
	add              bool
}

func (a vxlanFDB) String() string {
	if a.add {
		return fmt.Sprintf("append VXLAN FDB entry %s dst %s to %s", a.mac, a.remote, a.end)
	}
	return fmt.Sprintf("delete VXLAN FDB entry %s dst %s from %s", a.mac, a.remote, a.end)
}

func (a vxlanFDB) validate(v *validator, p *plan, obj string) {
	v.end(p, obj, a.end)
	if _, err := net.ParseMAC(a.mac); err != nil {
		v.add(obj, "VXLAN FDB entry %q is not a MAC address", "write it like 02:00:00:00:00:01, or 00:00:00:00:00:00 for the flood list", a.mac)
	}
	if _, err := netip.ParseAddr(a.remote); err != nil {
		v.add(obj, "VXLAN FDB remote %q is not an IP address", "write the other endpoint's underlay address, like 10.0.0.2", a.remote)
	}
	node, iface, _ := strings.Cut(a.end, ":")
	if pn := p.node(node); pn != nil {
		if pi := pn.iface(iface); pi != nil {
			if _, ok := pi.kind.(remoteFDB); !ok {
				v.add(obj, "%q is not a VXLAN interface", "name an interface declared with scenario.VXLAN", a.end)
			}
		}
	}
}

func (a vxlanFDB) Run(ctx context.Context, n *Network) error {
	_, err := a.report(ctx, n)
	return err
}

func (a vxlanFDB) report(ctx context.Context, n *Network) (string, error) {
	nd, _, l, err := n.end(a.end)
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) { return "", fmt.Errorf("%s: %w", a, err) }
	mac, err := net.ParseMAC(a.mac)
	if err != nil {
		return fail(err)
	}
	remote, err := netip.ParseAddr(a.remote)
	if err != nil {
		return fail(err)
	}
	ne := &netlink.Neigh{LinkIndex: l.Attrs().Index, Family: unix.AF_BRIDGE, State: netlink.NUD_NOARP | netlink.NUD_PERMANENT,
		Flags: netlink.NTF_SELF, HardwareAddr: mac, IP: remote.AsSlice()}
	if a.add {
		err = nd.nl.NeighAppend(ne)
	} else {
		err = nd.nl.NeighDel(ne)
	}
	if err != nil {
		return fail(err)
	}
	es, err := nd.nl.NeighList(l.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		return fail(fmt.Errorf("read the FDB: %w", err))
	}
	var dsts []string
	found := false
	for _, e := range es {
		if e.LinkIndex != l.Attrs().Index || e.HardwareAddr.String() != mac.String() || e.IP == nil {
			continue
		}
		dsts = append(dsts, e.IP.String())
		if ip, ok := netip.AddrFromSlice(e.IP); ok && ip.Unmap() == remote.Unmap() {
			found = true
		}
	}
	switch {
	case a.add && !found:
		return fail(fmt.Errorf("the kernel does not list it after appending it (dst %s)", orNone(dsts)))
	case !a.add && found:
		return fail(fmt.Errorf("the kernel still lists it (dst %s)", orNone(dsts)))
	}
	return fmt.Sprintf("the kernel lists %s dst %s", mac, orNone(dsts)), nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// Enslave makes an interface ("node:iface") a port of a bridge or bond of
// the same node (master, an interface name), like ip link set IFACE
// master MASTER. It returns once the kernel reports the port's master.
func Enslave(end, master string) Action { return enslave{end: end, master: master} }

// Release removes an interface from its bridge or bond, like ip link set
// IFACE nomaster; it returns once the kernel reports no master.
func Release(end string) Action { return enslave{end: end} }

type enslave struct{ end, master string }

func (a enslave) String() string {
	if a.master == "" {
		return "release " + a.end + " from its master"
	}
	return "enslave " + a.end + " to " + a.master
}

func (a enslave) validate(v *validator, p *plan, obj string) {
	v.end(p, obj, a.end)
	if a.master == "" {
		return
	}
	node, iface, _ := strings.Cut(a.end, ":")
	pn := p.node(node)
	if pn == nil {
		return
	}
	if iface == a.master {
		v.add(obj, "%q cannot be its own master", "name a bridge or bond of the node", a.end)
		return
	}
	if a.master == pn.bridge && pn.bridge != "" {
		return // a switch's bridge
	}
	mi := pn.iface(a.master)
	if mi == nil {
		v.add(obj, "node %q has no bridge or bond %q", "declare it with Iface(name, scenario.Bridge{}) or scenario.Bond{}", node, a.master)
		return
	}
	if !isL2Master(mi.kind) {
		v.add(obj, "%q is not a bridge or bond", "enslave to an interface declared with scenario.Bridge or scenario.Bond", a.master)
	}
	if pi := pn.iface(iface); pi != nil && len(pi.addrs) > 0 {
		v.add(obj, "%q has addresses", "a port carries no address: give the bridge the address, or declare the link with Addrs(\"\", …)", a.end)
	}
}

func (a enslave) Run(ctx context.Context, n *Network) error {
	_, err := a.report(ctx, n)
	return err
}

func (a enslave) report(ctx context.Context, n *Network) (string, error) {
	nd, ifc, l, err := n.end(a.end)
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) { return "", fmt.Errorf("%s: %w", a, err) }
	if a.master == "" {
		if err := nd.nl.LinkSetNoMaster(l); err != nil {
			return fail(err)
		}
	} else {
		ml, err := nd.nl.LinkByName(a.master)
		if err != nil {
			return fail(fmt.Errorf("master %q: %w", a.master, err))
		}
		if _, isBond := ml.(*netlink.Bond); isBond && l.Attrs().Flags&net.FlagUp != 0 {
			// A bond takes only ports that are down; it brings them up.
			if err := nd.nl.LinkSetDown(l); err != nil {
				return fail(err)
			}
		}
		if err := nd.nl.LinkSetMasterByIndex(l, ml.Attrs().Index); err != nil {
			return fail(err)
		}
		if err := nd.nl.LinkSetUp(l); err != nil {
			return fail(err)
		}
	}
	l, err = nd.nl.LinkByIndex(ifc.Index)
	if err != nil {
		return fail(fmt.Errorf("read it back: %w", err))
	}
	got := ""
	if mi := l.Attrs().MasterIndex; mi != 0 {
		ml, err := nd.nl.LinkByIndex(mi)
		if err != nil {
			return fail(fmt.Errorf("read its master back: %w", err))
		}
		got = ml.Attrs().Name
	}
	if got != a.master {
		return fail(fmt.Errorf("the kernel reports master %q", got))
	}
	ifc.Master = got
	if got == "" {
		return "the kernel reports no master", nil
	}
	return fmt.Sprintf("the kernel reports master %s (operstate %s)", got, l.Attrs().OperState), nil
}

// BridgeVLAN is a VLAN of a bridge port: VID, and whether it is the
// port's PVID (untagged frames arriving join it) and leaves untagged.
type BridgeVLAN struct {
	VID      int
	PVID     bool
	Untagged bool
}

func (b BridgeVLAN) String() string {
	s := fmt.Sprintf("vid %d", b.VID)
	if b.PVID {
		s += " pvid"
	}
	if b.Untagged {
		s += " untagged"
	}
	return s
}

// BridgeVLANAdd adds a VLAN to a port ("node:port") of a VLAN-filtering
// bridge, like bridge vlan add dev PORT vid VID [pvid] [untagged]. It
// returns once the kernel lists the VLAN on the port with those flags.
func BridgeVLANAdd(port string, v BridgeVLAN) Action { return bridgeVLAN{port: port, v: v, add: true} }

// BridgeVLANDel removes a VLAN from a port, like bridge vlan del dev
// PORT vid VID; it returns once the kernel no longer lists it.
func BridgeVLANDel(port string, vid int) Action {
	return bridgeVLAN{port: port, v: BridgeVLAN{VID: vid}}
}

type bridgeVLAN struct {
	port string
	v    BridgeVLAN
	add  bool
}

func (a bridgeVLAN) String() string {
	if a.add {
		return fmt.Sprintf("add VLAN %s to %s", a.v, a.port)
	}
	return fmt.Sprintf("delete VLAN %d from %s", a.v.VID, a.port)
}

func (a bridgeVLAN) features() []Feature { return []Feature{FeatureBridgeVLAN} }

func (a bridgeVLAN) validate(v *validator, p *plan, obj string) {
	v.end(p, obj, a.port)
	if !validVID(a.v.VID) {
		v.add(obj, "VLAN %d is out of range", "use VLAN IDs 1..4094", a.v.VID)
	}
	if br := v.bridgeOf(p, obj, a.port); br != nil && !br.vlanFiltering() {
		v.add(obj, "the bridge of %q does not filter VLANs", "declare it with scenario.Bridge{VLANFiltering: true}", a.port)
	}
}

func (a bridgeVLAN) Run(ctx context.Context, n *Network) error {
	_, err := a.report(ctx, n)
	return err
}

func (a bridgeVLAN) report(ctx context.Context, n *Network) (string, error) {
	nd, ifc, l, err := n.end(a.port)
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) { return "", fmt.Errorf("%s: %w", a, err) }
	vid := uint16(a.v.VID)
	if a.add {
		err = nd.nl.BridgeVlanAdd(l, vid, a.v.PVID, a.v.Untagged, false, true)
	} else {
		err = nd.nl.BridgeVlanDel(l, vid, false, false, false, true)
	}
	if err != nil {
		return fail(err)
	}
	all, err := nd.nl.BridgeVlanList()
	if err != nil {
		return fail(fmt.Errorf("read the port's VLANs: %w", err))
	}
	var have []string
	var found *BridgeVLAN
	for _, vi := range all[int32(ifc.Index)] {
		bv := BridgeVLAN{VID: int(vi.Vid), PVID: vi.PortVID(), Untagged: vi.EngressUntag()}
		have = append(have, bv.String())
		if int(vi.Vid) == a.v.VID {
			found = &bv
		}
	}
	switch {
	case a.add && found == nil:
		return fail(fmt.Errorf("the kernel does not list it; the port has %s", orNone(have)))
	case a.add && *found != a.v:
		return fail(fmt.Errorf("the kernel lists %s", found))
	case !a.add && found != nil:
		return fail(fmt.Errorf("the kernel still lists %s", found))
	}
	return "the port has " + orNone(have), nil
}
