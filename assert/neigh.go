package assert

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/scenario"
)

// NeighResult is the evidence of a neighbour-table check: the entry for an
// address in a node's ARP (IPv4) or NDP (IPv6) table, if any.
type NeighResult struct {
	Node  string
	Addr  netip.Addr
	Found bool
	// Iface, MAC and State describe the entry when found.
	Iface string
	MAC   net.HardwareAddr
	State string
	// Want says what the check expected.
	Want string
}

// Evidence renders the entry like ip neigh.
func (r *NeighResult) Evidence() string {
	if !r.Found {
		return fmt.Sprintf("%s neighbour %s: no entry; want %s", r.Node, r.Addr, r.Want)
	}
	return fmt.Sprintf("%s neighbour %s dev %s lladdr %s %s; want %s", r.Node, r.Addr, r.Iface, r.MAC, r.State, r.Want)
}

// Neighbour checks a node's neighbour entry for addr (ARP for IPv4, NDP for
// IPv6). By default the entry must exist with a link-layer address (any
// state but INCOMPLETE and FAILED); Expect("stale") asks for a state,
// MAC("…" or "node:iface") for an address, Absent() for no entry at all.
// It reads the table; it sends nothing.
func Neighbour(ctx context.Context, nd *scenario.Node, addr netip.Addr, opts ...Option) (*NeighResult, error) {
	o, err := build(Options{}, opts)
	if err != nil {
		return nil, fmt.Errorf("neighbour: %w", err)
	}
	want, err := macOf(nd.Network(), o.MAC)
	if err != nil {
		return nil, err
	}
	r := &NeighResult{Node: nd.Name(), Addr: addr, Want: neighWant(o)}
	family := unix.AF_INET
	if addr.Is6() {
		family = unix.AF_INET6
	}
	entries, err := nd.Netlink().NeighList(0, family)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return r, fmt.Errorf("neighbour: list %s's table: %w", nd.Name(), err)
	}
	for _, e := range entries {
		if a, ok := netip.AddrFromSlice(e.IP); ok && a.Unmap() == addr {
			r.Found, r.MAC, r.State = true, e.HardwareAddr, scenario.NeighState(e.State)
			r.Iface = ifaceName(nd, e.LinkIndex)
			break
		}
	}
	fail := func(why string) (*NeighResult, error) {
		return r, fmt.Errorf("%s's neighbour entry for %s %s: %s", nd.Name(), addr, why, r.Evidence())
	}
	switch {
	case o.Absent && r.Found:
		return fail("exists")
	case o.Absent:
		return r, nil
	case !r.Found:
		return fail("is missing")
	case o.Expect != "" && !strings.Contains(strings.ToUpper(r.State), strings.ToUpper(o.Expect)):
		return fail("is in the wrong state")
	case o.Expect == "" && (strings.Contains(r.State, "INCOMPLETE") || strings.Contains(r.State, "FAILED")):
		return fail("has no link-layer address")
	case want != nil && r.MAC.String() != want.String():
		return fail("has the wrong MAC")
	}
	return r, nil
}

func neighWant(o Options) string {
	if o.Absent {
		return "absent"
	}
	var parts []string
	if o.Expect != "" {
		parts = append(parts, strings.ToUpper(o.Expect))
	} else {
		parts = append(parts, "resolved")
	}
	if o.MAC != "" {
		parts = append(parts, "lladdr "+o.MAC)
	}
	return strings.Join(parts, " ")
}

// NeighbourEntry is a scenario check of a node's neighbour entry for
// target (a node name or an address); see Neighbour.
func NeighbourEntry(node string, target Target, opts ...Option) scenario.CheckFunc {
	return named("NeighbourEntry", neighbourReads, Neighbour, node, target, opts)
}

// HasNeighbour fails the test unless the node's neighbour entry for target
// is as expected; see Neighbour.
func HasNeighbour(t TestingT, nd *scenario.Node, target Target, opts ...Option) bool {
	helper(t).Helper()
	return inTest(t, Neighbour, nd, target, opts)
}

// macOf parses a MAC, or resolves "node:iface" to that interface's.
func macOf(n *scenario.Network, s string) (net.HardwareAddr, error) {
	if s == "" {
		return nil, nil
	}
	if m, err := net.ParseMAC(s); err == nil {
		return m, nil
	}
	node, iface, ok := strings.Cut(s, ":")
	if ok && n != nil {
		if nd, found := n.Lookup(node); found {
			if ifc := nd.Interface(iface); ifc != nil {
				return ifc.MAC, nil
			}
		}
	}
	return nil, fmt.Errorf("%q is neither a MAC address nor node:interface of the scenario", s)
}

func ifaceName(nd *scenario.Node, index int) string {
	if name, ok := knownIface(nd, index); ok {
		return name
	}
	if l, err := nd.Netlink().LinkByIndex(index); err == nil {
		return l.Attrs().Name
	}
	return fmt.Sprintf("if%d", index)
}

// knownIface returns the name of the scenario's interface of nd with
// index, without asking the kernel.
func knownIface(nd *scenario.Node, index int) (string, bool) {
	for _, i := range nd.Interfaces() {
		if i.Index == index {
			return i.Name, true
		}
	}
	return "", false
}

// FDBResult is the evidence of a bridge FDB check.
type FDBResult struct {
	Switch string
	MAC    net.HardwareAddr
	Found  bool
	// Port is the bridge port the MAC was learned on (or set on).
	Port string
	// Kind is "learned", "static" or "local".
	Kind string
	Want string
}

// Evidence renders the entry like bridge fdb.
func (r *FDBResult) Evidence() string {
	if !r.Found {
		return fmt.Sprintf("%s fdb %s: no entry; want %s", r.Switch, r.MAC, r.Want)
	}
	return fmt.Sprintf("%s fdb %s dev %s %s; want %s", r.Switch, r.MAC, r.Port, r.Kind, r.Want)
}

// FDBLookup checks a switch's forwarding database for a MAC: present (on
// the port Via names, if any) or, with Absent(), missing — which after
// ageing means aged out.
func FDBLookup(ctx context.Context, sw *scenario.Node, mac net.HardwareAddr, opts ...Option) (*FDBResult, error) {
	o, err := build(Options{}, opts)
	if err != nil {
		return nil, fmt.Errorf("fdb: %w", err)
	}
	r := &FDBResult{Switch: sw.Name(), MAC: mac, Want: "present"}
	if o.Interface != "" {
		r.Want = "on " + o.Interface
	}
	if o.Absent {
		r.Want = "absent"
	}
	entries, err := sw.Netlink().NeighList(0, unix.AF_BRIDGE)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return r, fmt.Errorf("fdb: list %s's FDB: %w", sw.Name(), err)
	}
	for _, e := range entries {
		if e.HardwareAddr.String() != mac.String() || e.Flags&netlink.NTF_MASTER == 0 && e.MasterIndex == 0 {
			continue // another MAC, or a port's own (self) entry
		}
		r.Found, r.Port = true, ifaceName(sw, e.LinkIndex)
		switch {
		case e.State&netlink.NUD_PERMANENT != 0:
			r.Kind = "local"
		case e.State&netlink.NUD_NOARP != 0:
			r.Kind = "static"
		default:
			r.Kind = "learned"
		}
		if o.Interface == "" || r.Port == o.Interface {
			break
		}
	}
	fail := func(why string) (*FDBResult, error) {
		return r, fmt.Errorf("%s's FDB entry for %s %s: %s", sw.Name(), mac, why, r.Evidence())
	}
	switch {
	case o.Absent && r.Found:
		return fail("exists")
	case o.Absent:
		return r, nil
	case !r.Found:
		return fail("is missing")
	case o.Interface != "" && r.Port != o.Interface:
		return fail("is on the wrong port")
	}
	return r, nil
}

// FDBEntry is a scenario check of a switch's FDB for mac (an address, or
// "node:iface" for that interface's); see FDBLookup.
func FDBEntry(sw, mac string, opts ...Option) scenario.CheckFunc {
	return declare("FDBEntry", fdbReads, opts, merge(names([]string{sw}), macRef("FDBEntry", mac)), checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		m, err := macOf(n, mac)
		if err != nil {
			return nil, err
		}
		return FDBLookup(ctx, n.Node(sw), m, opts...)
	}))
}

// HasFDB fails the test unless the switch's FDB entry for mac is as
// expected; see FDBLookup.
func HasFDB(t TestingT, sw *scenario.Node, mac string, opts ...Option) bool {
	helper(t).Helper()
	m, err := macOf(sw.Network(), mac)
	if err != nil {
		t.Errorf("%v", err)
		return false
	}
	r, err := FDBLookup(nodeContext(t), sw, m, opts...)
	return report(t, r, err)
}
