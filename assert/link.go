package assert

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/scenario"
)

// LinkResult is the evidence of a link-state check.
type LinkResult struct {
	Node, Iface string
	AdminUp     bool
	Carrier     bool
	Oper        string
	MTU         int
	Want        string
}

// State is "up" (operationally up), "no-carrier" (administratively up,
// operationally down) or "down" (administratively down), judged from the
// kernel's operstate — the state the kernel has acted on (neighbours,
// routes, bridge ports), which it sets after the carrier flag changes.
// A driver that keeps no operstate ("unknown", like lo) is judged by its
// carrier. Other operstates ("dormant", "testing") are returned as they
// are.
func (r *LinkResult) State() string {
	switch {
	case !r.AdminUp:
		return "down"
	case r.Oper == "up", r.Oper == "unknown" && r.Carrier:
		return "up"
	case r.Oper == "unknown", r.Oper == "down", r.Oper == "lowerlayerdown":
		return "no-carrier"
	}
	return r.Oper
}

// Evidence renders the link like ip link.
func (r *LinkResult) Evidence() string {
	return fmt.Sprintf("%s:%s: %s (admin %s, carrier %v, operstate %s, mtu %d); want %s",
		r.Node, r.Iface, r.State(), upDown(r.AdminUp), r.Carrier, r.Oper, r.MTU, r.Want)
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

// LinkStatus checks an interface's state: Expect("up") (the default),
// "down" or "no-carrier".
func LinkStatus(ctx context.Context, nd *scenario.Node, iface string, opts ...Option) (*LinkResult, error) {
	o, err := build(Options{Expect: "up"}, opts)
	if err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	r := &LinkResult{Node: nd.Name(), Iface: iface, Want: o.Expect}
	l, err := nd.Netlink().LinkByName(iface)
	if err != nil {
		return r, fmt.Errorf("%s has no interface %q: %w", nd.Name(), iface, err)
	}
	a := l.Attrs()
	r.AdminUp = a.Flags&net.FlagUp != 0
	r.Carrier = a.RawFlags&unix.IFF_LOWER_UP != 0
	r.Oper, r.MTU = a.OperState.String(), a.MTU
	if r.State() != o.Expect {
		return r, fmt.Errorf("%s:%s is %s, want %s: %s", nd.Name(), iface, r.State(), o.Expect, r.Evidence())
	}
	return r, nil
}

// LinkIs is a scenario check of an interface's state ("node:iface"); see
// LinkStatus.
func LinkIs(end string, opts ...Option) scenario.CheckFunc {
	return declare("LinkIs", linkReads, opts, ends(end), checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		nd, iface, err := splitEnd(n, end)
		if err != nil {
			return nil, err
		}
		return LinkStatus(ctx, nd, iface, opts...)
	}))
}

// LinkStateIs fails the test unless the interface's state is as expected.
//
// Deprecated: use assert.Check(t, n, assert.LinkIs(…)).
func LinkStateIs(t TestingT, nd *scenario.Node, iface string, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, nd.Network(), LinkIs(nd.Name()+":"+iface, opts...))
}

func splitEnd(n *scenario.Network, end string) (*scenario.Node, string, error) {
	node, iface, ok := strings.Cut(end, ":")
	if !ok || iface == "" {
		return nil, "", fmt.Errorf("%q is not node:interface", end)
	}
	nd, found := n.Lookup(node)
	if !found {
		return nil, "", fmt.Errorf("scenario %q has no node %q", n.Spec().Name, node)
	}
	return nd, iface, nil
}

// SysctlResult is the evidence of a sysctl check.
type SysctlResult struct {
	Node, Name, Value, Want string
}

// Evidence renders the value.
func (r *SysctlResult) Evidence() string {
	return fmt.Sprintf("%s: %s=%s; want %s", r.Node, r.Name, r.Value, r.Want)
}

// SysctlValue checks a network sysctl's value in a node.
func SysctlValue(ctx context.Context, nd *scenario.Node, name, want string) (*SysctlResult, error) {
	r := &SysctlResult{Node: nd.Name(), Name: name, Want: want}
	v, err := nd.Sysctl(name)
	if err != nil {
		return r, err
	}
	r.Value = v
	if strings.Join(strings.Fields(v), " ") != strings.Join(strings.Fields(want), " ") {
		return r, fmt.Errorf("%s: %s is %s, want %s", nd.Name(), name, v, want)
	}
	return r, nil
}

// SysctlIs is a scenario check of a sysctl's value in a node.
func SysctlIs(node, name, want string) scenario.CheckFunc {
	return declare("SysctlIs", 0, nil, names([]string{node}), checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		return SysctlValue(ctx, n.Node(node), name, want)
	}))
}

// HasSysctl fails the test unless the sysctl has the value.
//
// Deprecated: use assert.Check(t, n, assert.SysctlIs(…)).
func HasSysctl(t TestingT, nd *scenario.Node, name, want string) bool {
	helper(t).Helper()
	return Check(t, nd.Network(), SysctlIs(nd.Name(), name, want))
}

// Counter names an interface counter.
type Counter string

// The interface counters, per direction.
const (
	RxPackets Counter = "rx_packets"
	TxPackets Counter = "tx_packets"
	RxBytes   Counter = "rx_bytes"
	TxBytes   Counter = "tx_bytes"
	RxDropped Counter = "rx_dropped"
	TxDropped Counter = "tx_dropped"
	RxErrors  Counter = "rx_errors"
	TxErrors  Counter = "tx_errors"
)

// CounterSnapshot is an interface's counters at one moment.
type CounterSnapshot map[Counter]uint64

// Counters reads an interface's counters.
func Counters(nd *scenario.Node, iface string) (CounterSnapshot, error) {
	l, err := nd.Netlink().LinkByName(iface)
	if err != nil {
		return nil, fmt.Errorf("%s has no interface %q: %w", nd.Name(), iface, err)
	}
	s := l.Attrs().Statistics
	if s == nil {
		return nil, fmt.Errorf("%s:%s has no statistics", nd.Name(), iface)
	}
	return snapshot(s), nil
}

func snapshot(s *netlink.LinkStatistics) CounterSnapshot {
	return CounterSnapshot{RxPackets: s.RxPackets, TxPackets: s.TxPackets, RxBytes: s.RxBytes, TxBytes: s.TxBytes,
		RxDropped: s.RxDropped, TxDropped: s.TxDropped, RxErrors: s.RxErrors, TxErrors: s.TxErrors}
}

// CounterResult is the evidence of a counter-delta check.
type CounterResult struct {
	End      string
	Counter  Counter
	Delta    uint64
	Min, Max uint64
	// All is every counter's delta, for the report.
	All string
}

// Evidence renders the deltas.
func (r *CounterResult) Evidence() string {
	return fmt.Sprintf("%s %s +%d, want %s; all: %s", r.End, r.Counter, r.Delta, bounds(r.Min, r.Max), r.All)
}

func bounds(lo, hi uint64) string {
	if hi == ^uint64(0) {
		return fmt.Sprintf("≥ %d", lo)
	}
	if lo == hi {
		return fmt.Sprintf("= %d", lo)
	}
	return fmt.Sprintf("%d..%d", lo, hi)
}

// CounterDelta compares two snapshots of an interface: the delta of c must
// lie in [min, max] (max ^uint64(0) for no bound).
func CounterDelta(end string, before, after CounterSnapshot, c Counter, lo, hi uint64) (*CounterResult, error) {
	r := &CounterResult{End: end, Counter: c, Min: lo, Max: hi, Delta: after[c] - before[c]}
	var all []string
	for _, k := range []Counter{RxPackets, TxPackets, RxBytes, TxBytes, RxDropped, TxDropped, RxErrors, TxErrors} {
		all = append(all, fmt.Sprintf("%s +%d", k, after[k]-before[k]))
	}
	r.All = strings.Join(all, ", ")
	if _, ok := after[c]; !ok {
		return r, fmt.Errorf("unknown counter %q", c)
	}
	if r.Delta < lo || r.Delta > hi {
		return r, fmt.Errorf("%s %s rose by %d, want %s: %s", end, c, r.Delta, bounds(lo, hi), r.Evidence())
	}
	return r, nil
}

func markKey(end string) string { return "assert.counters/" + end }

// MarkCounters is a step that snapshots an interface's counters
// ("node:iface") for a later CountersRose check.
func MarkCounters(end string) scenario.Action { return markCounters(end) }

type markCounters string

func (m markCounters) String() string { return "snapshot the counters of " + string(m) }

// Refs names the interface, for Validate.
func (m markCounters) Refs() scenario.CheckRefs { return ends(string(m)) }

func (m markCounters) Run(ctx context.Context, n *scenario.Network) error {
	nd, iface, err := splitEnd(n, string(m))
	if err != nil {
		return err
	}
	s, err := Counters(nd, iface)
	if err != nil {
		return err
	}
	n.SetValue(markKey(string(m)), s)
	return nil
}

// CountersRose is a scenario check: since the MarkCounters step of the
// same interface, counter c rose by between lo and hi (hi ^uint64(0): no
// upper bound; lo = hi = 0: not at all). The kernel's counters count every
// packet, ARP and neighbour discovery included: this check is about the
// counter itself (drops, errors). To tell where your own traffic went, use
// the checks that match their packets (Spread, Forwarded, Frames).
func CountersRose(end string, c Counter, lo, hi uint64) scenario.CheckFunc {
	return declare("CountersRose", 0, nil, ends(end), checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		v, ok := n.Value(markKey(end))
		if !ok {
			return nil, fmt.Errorf("no counters of %s were marked: add a MarkCounters(%q) step before this check", end, end)
		}
		nd, iface, err := splitEnd(n, end)
		if err != nil {
			return nil, err
		}
		after, err := Counters(nd, iface)
		if err != nil {
			return nil, err
		}
		return CounterDelta(end, v.(CounterSnapshot), after, c, lo, hi)
	}))
}

// CountersRoseDuring fails the test unless counter c of the interface rose
// by between lo and hi while fn ran.
func CountersRoseDuring(t TestingT, nd *scenario.Node, iface string, c Counter, lo, hi uint64, fn func()) bool {
	helper(t).Helper()
	before, err := Counters(nd, iface)
	if err != nil {
		t.Errorf("%v", err)
		return false
	}
	fn()
	after, err := Counters(nd, iface)
	if err != nil {
		t.Errorf("%v", err)
		return false
	}
	r, err := CounterDelta(nd.Name()+":"+iface, before, after, c, lo, hi)
	return report(t, r, err)
}
