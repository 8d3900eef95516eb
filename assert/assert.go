package assert

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// Options tune a check. Zero fields take each check's defaults.
type Options struct {
	// Count is the number of probes.
	Count int
	// Interval is the time between probes.
	Interval time.Duration
	// Timeout bounds the whole check.
	Timeout time.Duration
	// Loss is the fraction of probes (0..1) that may be lost and still pass.
	Loss float64
	// Source is the source address to send from.
	Source netip.Addr
	// Interface is the interface to send from.
	Interface string
	// IPv6 makes checks given a node as target use its IPv6 address.
	IPv6 bool
	// Port is a TCP or UDP port.
	Port int
	// Warmup is a number of probes sent and not counted before measuring.
	Warmup int
	// Size is the ICMP payload size in bytes (a UDP stream's datagram
	// payload).
	Size int
	// Absent expects a kernel object (neighbour, FDB or conntrack entry,
	// route) to be missing.
	Absent bool
	// Expect is an expected state: a neighbour state ("reachable",
	// "stale", …), a link state ("up", "down", "no-carrier"), an FDB
	// entry's kind, a frame count (Exactly, AtLeastCount, NoFrames) or a
	// Verdict (Firewall).
	Expect string
	// Because is why an isolation check wants the destination unreached
	// (NoRoute, Rejected or Filtered; "": any).
	Because Verdict
	// MAC is an expected hardware address, or "node:iface" for that
	// interface's address.
	MAC string
	// Gateway is the expected gateway of a route lookup.
	Gateway string
	// PathMTU is the expected path MTU of a route lookup (a PMTU
	// exception).
	PathMTU int
	// VLAN is the VLAN an FDB entry must be in.
	VLAN int
	// MTULocked expects a route lookup's MTU to be locked ("mtu lock").
	MTULocked bool
	// PMTUException expects a route lookup to carry a cached PMTU
	// exception (with Absent: none cached).
	PMTUException bool
	// UDP makes a firewall-verdict check use UDP.
	UDP bool
	// Listen makes a firewall-verdict check listen at the destination.
	Listen bool
	// MinMbps and MaxMbps bound a throughput check (0: open).
	MinMbps, MaxMbps float64
	// Duration is how long a throughput check sends.
	Duration time.Duration
	// Jitter bounds the RFC 3550 interarrival jitter of a UDP stream
	// check (0: open).
	Jitter time.Duration
}

// Option sets one field of Options.
type Option func(*Options)

// Count sets the number of probes.
func Count(n int) Option { return func(o *Options) { o.Count = n } }

// Interval sets the time between probes.
func Interval(d time.Duration) Option { return func(o *Options) { o.Interval = d } }

// Timeout bounds the whole check.
func Timeout(d time.Duration) Option { return func(o *Options) { o.Timeout = d } }

// Loss sets the fraction of probes that may be lost.
func Loss(f float64) Option { return func(o *Options) { o.Loss = f } }

// Source sets the source address.
func Source(a netip.Addr) Option { return func(o *Options) { o.Source = a } }

// Via sets the interface to send from.
func Via(iface string) Option { return func(o *Options) { o.Interface = iface } }

// IPv6 targets nodes by their IPv6 address.
func IPv6() Option { return func(o *Options) { o.IPv6 = true } }

// Port sets the TCP or UDP port.
func Port(p int) Option { return func(o *Options) { o.Port = p } }

// Size sets the ICMP payload size in bytes (the echo checks default to 24).
func Size(n int) Option { return func(o *Options) { o.Size = n } }

// Warmup sends n uncounted probes first (the first packet pays for ARP).
func Warmup(n int) Option { return func(o *Options) { o.Warmup = n } }

// Absent expects the kernel object looked up to be missing.
func Absent() Option { return func(o *Options) { o.Absent = true } }

// Expect sets the expected state: a Verdict (Firewall), a frame count
// (Frames), a link state (LinkIs), a neighbour state (NeighbourEntry) or an
// FDB entry's kind (FDBEntry). A value the check does not know is a
// Validate error.
func Expect[S ~string](state S) Option { return func(o *Options) { o.Expect = string(state) } }

// MAC sets the expected hardware address ("02:00:00:00:00:01", or
// "node:iface" for that interface's).
func MAC(mac string) Option { return func(o *Options) { o.MAC = mac } }

// Gateway sets the expected gateway of a route lookup.
func Gateway(addr string) Option { return func(o *Options) { o.Gateway = addr } }

// PathMTU sets the expected path MTU of a route lookup.
func PathMTU(mtu int) Option { return func(o *Options) { o.PathMTU = mtu } }

// VLAN requires an FDB entry in this VLAN.
func VLAN(id int) Option { return func(o *Options) { o.VLAN = id } }

func build(defaults Options, opts []Option) (Options, error) {
	o := defaults
	for _, f := range opts {
		f(&o)
	}
	switch {
	case o.Count < 0:
		return o, fmt.Errorf("count %d is negative", o.Count)
	case o.Interval < 0:
		return o, fmt.Errorf("interval %v is negative", o.Interval)
	case o.Timeout < 0:
		return o, fmt.Errorf("timeout %v is negative", o.Timeout)
	case o.Loss < 0 || o.Loss > 1:
		return o, fmt.Errorf("loss tolerance %v is outside 0..1", o.Loss)
	case o.Port < 0 || o.Port > 65535:
		return o, fmt.Errorf("port %d is out of range", o.Port)
	case o.Size < 0 || o.Size > 65000:
		return o, fmt.Errorf("size %d is out of range", o.Size)
	case o.Warmup < 0:
		return o, fmt.Errorf("warmup %d is negative", o.Warmup)
	case o.Duration < 0:
		return o, fmt.Errorf("duration %v is negative", o.Duration)
	case o.PathMTU < 0:
		return o, fmt.Errorf("path MTU %d is negative", o.PathMTU)
	case o.VLAN < 0 || o.VLAN > 4094:
		return o, fmt.Errorf("VLAN %d is outside 1..4094", o.VLAN)
	}
	return o, nil
}

// Target is what a check aims at: a node (by its address) or an address.
// Use the node's name in scenario checks; an IP literal works everywhere.
type Target interface{}

// resolve returns the address a target stands for. Node names are looked up
// in n, or in from's network when n is nil.
func resolve(n *scenario.Network, from *scenario.Node, t Target, v6 bool) (netip.Addr, error) {
	if n == nil {
		n = from.Network()
	}
	switch t := t.(type) {
	case netip.Addr:
		return t, nil
	case *scenario.Node:
		return from.AddrFor(t, v6)
	case string:
		if a, err := netip.ParseAddr(t); err == nil {
			return a, nil
		}
		if n == nil {
			return netip.Addr{}, fmt.Errorf("target %q is not an address", t)
		}
		nd, ok := n.Lookup(t)
		if !ok {
			return netip.Addr{}, fmt.Errorf("target %q is neither an address nor a node of scenario %q", t, n.Spec().Name)
		}
		return from.AddrFor(nd, v6)
	}
	return netip.Addr{}, fmt.Errorf("target %v (%T) is not a node or an address", t, t)
}

func family(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

// TestingT is what the testing helpers need of a test: testify's
// assert.TestingT method set, so *testing.T, *testing.B, testify's
// *assert.CollectT (inside EventuallyWithT), Ginkgo's GinkgoT() and test
// doubles all work. Helper, Logf and Context are used when the value has
// them.
type TestingT interface {
	Errorf(format string, args ...any)
}

// helper returns t's Helper method where t has one. Call it as
// helper(t).Helper() in the helper itself: testing marks the function that
// calls Helper, so a wrapper calling it for you would mark only itself and
// the log line would point into this package.
func helper(t TestingT) interface{ Helper() } {
	if h, ok := t.(interface{ Helper() }); ok {
		return h
	}
	return noHelper{}
}

type noHelper struct{}

func (noHelper) Helper() {}

// logf logs the evidence of a passed check where the test can log.
func logf(t TestingT, format string, args ...any) {
	helper(t).Helper()
	if l, ok := t.(interface{ Logf(string, ...any) }); ok {
		l.Logf(format, args...)
	}
}

// Evidencer is implemented by every result.
type Evidencer interface{ Evidence() string }

// evidence returns r's evidence, or "" when r is nil, including a nil
// pointer held in the interface (a direct check that could not start).
func evidence(r Evidencer) string {
	if r == nil {
		return ""
	}
	if v := reflect.ValueOf(r); v.Kind() == reflect.Pointer && v.IsNil() {
		return ""
	}
	return r.Evidence()
}

// checkFunc adapts a function of the network to a scenario check.
func checkFunc(fn func(ctx context.Context, n *scenario.Network) (Evidencer, error)) scenario.CheckFunc {
	return func(ctx context.Context, n *scenario.Network) scenario.Result {
		r, err := fn(ctx, n)
		return scenario.Verdict(evidence(r), err)
	}
}

// resolveFor resolves a check's target as resolve does, in the IP version
// opts ask for (IPv6).
func resolveFor(n *scenario.Network, from *scenario.Node, t Target, opts []Option) (netip.Addr, error) {
	o, _ := build(Options{}, opts)
	return resolve(n, from, t, o.IPv6)
}

// direct is the shape of the direct checks: from a node towards an address.
type direct[R Evidencer] func(ctx context.Context, from *scenario.Node, to netip.Addr, opts ...Option) (R, error)

// named makes a scenario check of a direct one, with the source given by
// node name and the target by node name or address. name and r declare
// it (see declare); fixed options are the check's own (Port from a
// positional argument) and follow the user's.
func named[R Evidencer](name string, r reads, check direct[R], from string, to Target, opts []Option, fixed ...Option) scenario.CheckFunc {
	all := slices.Concat(opts, fixed)
	return declare(name, r, opts, names([]string{from}, to), walkNamed(name, from, to, all, checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		src := n.Node(from)
		dst, err := resolveFor(n, src, to, all)
		if err != nil {
			return nil, err
		}
		return check(ctx, src, dst, all...)
	})), fixed...)
}

// inTest runs a direct check for a testing helper: a failure fails the
// test with the evidence; a pass logs it.
func inTest[R Evidencer](t TestingT, check direct[R], from *scenario.Node, to Target, opts []Option) bool {
	helper(t).Helper()
	dst, err := resolveFor(nil, from, to, opts)
	if err != nil {
		t.Errorf("%v", err)
		return false
	}
	r, err := check(nodeContext(t), from, dst, opts...)
	return report(t, r, err)
}

// earliest returns t, or ctx's deadline if that comes first.
func earliest(ctx context.Context, t time.Time) time.Time {
	if d, ok := ctx.Deadline(); ok && d.Before(t) {
		return d
	}
	return t
}

// nodeContext is the context for testing helpers.
func nodeContext(t TestingT) context.Context {
	if c, ok := t.(interface{ Context() context.Context }); ok {
		return c.Context()
	}
	return context.Background()
}
