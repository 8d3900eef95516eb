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
//
// Deprecated: use assert.Check(t, n, assert.NeighbourEntry(…)).
func HasNeighbour(t TestingT, nd *scenario.Node, target Target, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, nd.Network(), NeighbourEntry(nd.Name(), target, opts...))
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

// The kinds of a bridge FDB entry, for Expect.
const (
	// FDBLocal is an entry for an address of the bridge or of one of its
	// ports (iproute2: permanent): frames for it are delivered to the
	// bridge itself and forwarded through no port.
	FDBLocal = string(scenario.FDBLocal)
	// FDBStatic is a forwarding entry that never ages (bridge fdb add …
	// static, or scenario.FDBEntry).
	FDBStatic = string(scenario.FDBStatic)
	// FDBLearned is an address the bridge learned from a frame's source.
	FDBLearned = string(scenario.FDBLearned)
	// FDBExternLearn is an entry added by an external learner (a switch
	// driver, or bridge fdb add … extern_learn).
	FDBExternLearn = string(scenario.FDBExternLearn)
)

// FDBResult is the evidence of a bridge FDB check.
type FDBResult struct {
	Switch string
	MAC    net.HardwareAddr
	Found  bool
	// Port, VLAN (0: none) and Kind describe the entry the check judged:
	// the one matching every option, else the closest. Port is the bridge
	// port the entry belongs to; for a local entry frames do not leave
	// through it.
	Port string
	VLAN int
	// Kind is FDBLocal, FDBStatic, FDBLearned or FDBExternLearn.
	Kind string
	// Entries are all of the bridge's entries for MAC, like bridge fdb
	// show renders them.
	Entries []string
	Want    string
}

// fdbEntry is one of a bridge's entries for a MAC.
type fdbEntry struct {
	port, kind string
	vlan       int
}

func (e fdbEntry) String() string {
	s := "dev " + e.port
	if e.vlan != 0 {
		s += fmt.Sprintf(" vlan %d", e.vlan)
	}
	s += " " + e.kind
	if e.kind == FDBLocal {
		s += " (delivered to the bridge itself, forwarded through no port)"
	}
	return s
}

// Evidence renders the entry like bridge fdb.
func (r *FDBResult) Evidence() string {
	if !r.Found {
		return fmt.Sprintf("%s fdb %s: no entry; want %s", r.Switch, r.MAC, r.Want)
	}
	s := fmt.Sprintf("%s fdb %s %s; want %s", r.Switch, r.MAC, fdbEntry{port: r.Port, kind: r.Kind, vlan: r.VLAN}, r.Want)
	if len(r.Entries) > 1 {
		s += "; all entries: " + strings.Join(r.Entries, " | ")
	}
	return s
}

// fdbWantKind resolves Expect for an FDB check ("permanent" is iproute2's
// word for local).
func fdbWantKind(expect string) (string, error) {
	switch k := strings.ToLower(expect); k {
	case "", FDBStatic, FDBLearned, FDBExternLearn, FDBLocal:
		return k, nil
	case "permanent":
		return FDBLocal, nil
	}
	return "", fmt.Errorf("fdb: kind %q is not %s, %s, %s or %s", expect, FDBStatic, FDBLearned, FDBExternLearn, FDBLocal)
}

// FDBLookup checks a switch's forwarding database for a MAC. By default
// an entry must exist; Via("p2") asks for a forwarding entry on port p2
// (a local entry never qualifies: it forwards through no port, unless
// Expect(FDBLocal) asks for one), Expect(FDBStatic, FDBLearned,
// FDBExternLearn or FDBLocal) for its kind, VLAN(10) for its VLAN.
// Absent() asks for no entry matching those options — without them, no
// entry at all, which after ageing means aged out.
func FDBLookup(ctx context.Context, sw *scenario.Node, mac net.HardwareAddr, opts ...Option) (*FDBResult, error) {
	o, err := build(Options{}, opts)
	if err != nil {
		return nil, fmt.Errorf("fdb: %w", err)
	}
	kind, err := fdbWantKind(o.Expect)
	if err != nil {
		return nil, err
	}
	var want []string
	if o.Interface != "" {
		want = append(want, "dev "+o.Interface)
	}
	if o.VLAN != 0 {
		want = append(want, fmt.Sprintf("vlan %d", o.VLAN))
	}
	if kind != "" {
		want = append(want, kind)
	}
	r := &FDBResult{Switch: sw.Name(), MAC: mac, Want: "present"}
	switch {
	case o.Absent && len(want) > 0:
		r.Want = "no entry " + strings.Join(want, " ")
	case o.Absent:
		r.Want = "absent"
	case len(want) > 0:
		r.Want = strings.Join(want, " ")
	}
	entries, err := sw.Netlink().NeighList(0, unix.AF_BRIDGE)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return r, fmt.Errorf("fdb: list %s's FDB: %w", sw.Name(), err)
	}
	// Each entry is scored by the options it meets; the check judges the
	// best one.
	portOK := func(e fdbEntry) bool {
		return o.Interface == "" || e.port == o.Interface && (e.kind != FDBLocal || kind == FDBLocal)
	}
	kindOK := func(e fdbEntry) bool { return kind == "" || e.kind == kind }
	vlanOK := func(e fdbEntry) bool { return o.VLAN == 0 || e.vlan == o.VLAN }
	best, bestScore := fdbEntry{}, -1
	for _, ne := range entries {
		if ne.HardwareAddr.String() != mac.String() || ne.Flags&netlink.NTF_MASTER == 0 && ne.MasterIndex == 0 {
			continue // another MAC, or a port's own (self) entry
		}
		e := fdbEntry{port: ifaceName(sw, ne.LinkIndex), kind: string(scenario.FDBKindOf(ne)), vlan: ne.Vlan}
		r.Entries = append(r.Entries, e.String())
		score := 0
		for _, ok := range []bool{portOK(e), kindOK(e), vlanOK(e)} {
			if ok {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = e, score
		}
	}
	if bestScore >= 0 {
		r.Found, r.Port, r.Kind, r.VLAN = true, best.port, best.kind, best.vlan
	}
	matches := bestScore == 3
	fail := func(why string) (*FDBResult, error) {
		return r, fmt.Errorf("%s's FDB entry for %s %s: %s", sw.Name(), mac, why, r.Evidence())
	}
	switch {
	case o.Absent && matches:
		return fail("exists")
	case o.Absent:
		return r, nil
	case !r.Found:
		return fail("is missing")
	case !portOK(best) && best.port == o.Interface:
		return fail(fmt.Sprintf("is a local entry: frames for it stay in the bridge and never leave through %s", o.Interface))
	case !portOK(best):
		return fail("is on the wrong port")
	case !kindOK(best):
		return fail(fmt.Sprintf("is %s, not %s", best.kind, kind))
	case !vlanOK(best):
		return fail("is in the wrong VLAN")
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
//
// Deprecated: use assert.Check(t, n, assert.FDBEntry(…)).
func HasFDB(t TestingT, sw *scenario.Node, mac string, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, sw.Network(), FDBEntry(sw.Name(), mac, opts...))
}
