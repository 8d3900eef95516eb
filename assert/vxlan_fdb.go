package assert

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/scenario"
)

// SelfFDB is the entry a SelfFDBEntry check looks for in a VXLAN device's
// own forwarding database (bridge fdb … self): frames for MAC are sent to
// the endpoint Dst in VNI.
type SelfFDB struct {
	// MAC is the entry's MAC; "" means 00:00:00:00:00:00, the flood list
	// (the endpoints unknown and broadcast frames are replicated to).
	MAC string
	// Dst is the remote endpoint's underlay address; "" accepts any.
	Dst string
	// VNI is the VNI the entry sends with; 0 accepts any (an entry without
	// its own VNI sends with the device's).
	VNI int
}

func (e SelfFDB) mac() string {
	if e.MAC == "" {
		return "00:00:00:00:00:00"
	}
	return e.MAC
}

func (e SelfFDB) String() string {
	s := e.mac()
	if e.Dst != "" {
		s += " dst " + e.Dst
	}
	if e.VNI != 0 {
		s += fmt.Sprintf(" vni %d", e.VNI)
	}
	return s + " self"
}

// problems says what is wrong with the entry's fields, or nothing.
func (e SelfFDB) problems() []scenario.CheckProblem {
	var p []scenario.CheckProblem
	if _, err := net.ParseMAC(e.mac()); err != nil {
		p = append(p, scenario.CheckProblem{Problem: fmt.Sprintf("assert.SelfFDBEntry: MAC %q is not a MAC address", e.MAC), Fix: "write it like 02:00:00:00:00:01, or leave it empty for the flood list"})
	}
	if _, err := netip.ParseAddr(e.Dst); e.Dst != "" && err != nil {
		p = append(p, scenario.CheckProblem{Problem: fmt.Sprintf("assert.SelfFDBEntry: dst %q is not an IP address", e.Dst), Fix: "write the remote endpoint's underlay address, like 10.0.0.2"})
	}
	if e.VNI < 0 || e.VNI > 1<<24-1 {
		p = append(p, scenario.CheckProblem{Problem: fmt.Sprintf("assert.SelfFDBEntry: VNI %d is out of range", e.VNI), Fix: "use 1..16777215, or 0 for any"})
	}
	return p
}

// SelfFDBResult is the evidence of a VXLAN FDB check: every self entry of
// the device for the MAC, like bridge fdb show dev VXLAN renders them.
type SelfFDBResult struct {
	End     string
	Want    SelfFDB
	Absent  bool
	Found   bool
	Entries []string
}

// Evidence renders the entries.
func (r *SelfFDBResult) Evidence() string {
	want := r.Want.String()
	if r.Absent {
		want = "no " + want
	}
	return fmt.Sprintf("%s fdb %s: %s; want %s", r.End, r.Want.mac(), orNoEntry(r.Entries), want)
}

func orNoEntry(es []string) string {
	if len(es) == 0 {
		return "no self entry"
	}
	return strings.Join(es, " | ")
}

// VXLANFDBLookup checks a VXLAN device's own FDB (iface of node nd) for
// an entry as want describes: MAC, and where set the remote endpoint Dst
// and VNI. Absent() asks for no such entry (after VXLANFDBDel, or on a
// device that should not flood to Dst).
func VXLANFDBLookup(ctx context.Context, nd *scenario.Node, iface string, want SelfFDB, opts ...Option) (*SelfFDBResult, error) {
	o, err := build(Options{}, opts)
	if err != nil {
		return nil, fmt.Errorf("vxlan fdb: %w", err)
	}
	r := &SelfFDBResult{End: nd.Name() + ":" + iface, Want: want, Absent: o.Absent}
	mac, err := net.ParseMAC(want.mac())
	if err != nil {
		return r, fmt.Errorf("vxlan fdb: %w", err)
	}
	var dst netip.Addr
	if want.Dst != "" {
		if dst, err = netip.ParseAddr(want.Dst); err != nil {
			return r, fmt.Errorf("vxlan fdb: dst: %w", err)
		}
	}
	l, err := nd.Netlink().LinkByName(iface)
	if err != nil {
		return r, fmt.Errorf("vxlan fdb: %s: %w", r.End, err)
	}
	vx, ok := l.(*netlink.Vxlan)
	if !ok {
		return r, fmt.Errorf("vxlan fdb: %s is a %s device, not a VXLAN", r.End, l.Type())
	}
	es, err := nd.Netlink().NeighList(l.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		return r, fmt.Errorf("vxlan fdb: read %s's FDB: %w", r.End, err)
	}
	for _, e := range es {
		if e.LinkIndex != l.Attrs().Index || e.Flags&netlink.NTF_SELF == 0 || e.HardwareAddr.String() != mac.String() {
			continue
		}
		ip, _ := netip.AddrFromSlice(e.IP)
		ip = ip.Unmap()
		vni := e.VNI
		if vni == 0 {
			vni = vx.VxlanId // the kernel leaves out the device's own
		}
		r.Entries = append(r.Entries, fmt.Sprintf("%s dst %s vni %d self %s", mac, addrOrNone(ip), vni, scenario.FDBKindOf(e)))
		if (!dst.IsValid() || ip == dst) && (want.VNI == 0 || vni == want.VNI) {
			r.Found = true
		}
	}
	switch {
	case o.Absent && r.Found:
		return r, fmt.Errorf("%s has VXLAN FDB entry %s, want none: %s", r.End, want, r.Evidence())
	case !o.Absent && !r.Found && len(r.Entries) > 0:
		return r, fmt.Errorf("%s has no VXLAN FDB entry %s (wrong dst or VNI): %s", r.End, want, r.Evidence())
	case !o.Absent && !r.Found:
		return r, fmt.Errorf("%s has no VXLAN FDB entry for %s: %s", r.End, mac, r.Evidence())
	}
	return r, nil
}

// SelfFDBEntry is a scenario check of a VXLAN device's own FDB entry
// (end is "node:vxlan"); see VXLANFDBLookup. It reads Absent.
func SelfFDBEntry(end string, want SelfFDB, opts ...Option) scenario.CheckFunc {
	node, iface, _ := strings.Cut(end, ":")
	refs := ends(end)
	refs.Problems = want.problems()
	return declare("SelfFDBEntry", readsAbsent, opts, refs, checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		nd, ok := n.Lookup(node)
		if !ok {
			return nil, fmt.Errorf("scenario %q has no node %q", n.Spec().Name, node)
		}
		return VXLANFDBLookup(ctx, nd, iface, want, opts...)
	}))
}
