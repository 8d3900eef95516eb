package assert

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// Hop is one hop of a trace.
type Hop struct {
	TTL  int
	From netip.Addr // invalid when nothing answered
	Node string     // the scenario node owning From, if any
	What string     // "time exceeded", "echo reply", "host unreachable", …
	RTT  time.Duration
}

// String renders a hop like a traceroute line.
func (h Hop) String() string {
	if !h.From.IsValid() {
		return fmt.Sprintf("%d *", h.TTL)
	}
	name := ""
	if h.Node != "" {
		name = " (" + h.Node + ")"
	}
	return fmt.Sprintf("%d %s%s %s %s", h.TTL, h.From, name, h.What, ms(h.RTT))
}

// TraceResult is the evidence of a trace: the hops from a node to a
// destination, like traceroute with ICMP echo.
type TraceResult struct {
	From    string
	To      netip.Addr
	Hops    []Hop
	Reached bool
	// Counters holds, for a forwarding check, the packet counters of the
	// router's interfaces before and after the trace.
	Counters string
	// Cause explains a failure from the evidence (e.g. ip_forward=0).
	Cause   string
	Elapsed time.Duration
	// Walk is the path walk done when a forwarding check failed.
	Walk *Walk
}

// Evidence renders the hop list.
func (r *TraceResult) Evidence() string {
	var hops []string
	for _, h := range r.Hops {
		hops = append(hops, h.String())
	}
	s := fmt.Sprintf("trace %s → %s: [%s], destination reached: %v", r.From, r.To, strings.Join(hops, "; "), r.Reached)
	if r.Counters != "" {
		s += "; " + r.Counters
	}
	if r.Cause != "" {
		s += "; cause: " + r.Cause
	}
	s += "; took " + ms(r.Elapsed)
	if r.Walk != nil {
		s += "\n" + r.Walk.Evidence()
	}
	return s
}

// HopAddrs returns the addresses that answered, in TTL order.
func (r *TraceResult) HopAddrs() []netip.Addr {
	var out []netip.Addr
	for _, h := range r.Hops {
		if h.From.IsValid() {
			out = append(out, h.From)
		}
	}
	return out
}

var traceDefaults = Options{Count: 8, Timeout: 200 * time.Millisecond}

// Trace sends echo requests with TTL 1, 2, … (up to Count hops, default 8)
// from a node towards to and records who answers each: routers with ICMP
// time exceeded, the destination with an echo reply. Timeout (200 ms) is per
// hop. It stops at the destination or at an unreachable error.
func Trace(ctx context.Context, from *scenario.Node, to netip.Addr, opts ...Option) (*TraceResult, error) {
	o, err := build(traceDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	start := time.Now()
	r := &TraceResult{From: from.Name(), To: to}
	defer func() { r.Elapsed = time.Since(start) }()
	p, err := openProber(from, to.Is6())
	if err != nil {
		return r, err
	}
	defer p.Close()
	for ttl := 1; ttl <= max(o.Count, 1); ttl++ {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		sent := time.Now()
		hop := Hop{TTL: ttl}
		if err := p.send(to, ttl, ttl); err != nil {
			hop.What = "send failed: " + err.Error()
			r.Hops = append(r.Hops, hop)
			return r, nil
		}
		deadline := sent.Add(o.Timeout)
		for {
			rep, err := p.read(deadline)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return r, fmt.Errorf("trace: read: %w", err)
			}
			if rep.seq != ttl {
				continue // a late answer to an earlier hop
			}
			hop.From, hop.RTT = rep.from, rep.at.Sub(sent)
			switch rep.kind {
			case echoReply:
				hop.What = "echo reply"
			case timeExceeded:
				hop.What = "time exceeded"
			default:
				hop.What = unreachName(rep.code)
			}
			break
		}
		r.Hops = append(r.Hops, hop)
		if hop.What == "echo reply" {
			r.Reached = true
			return r, nil
		}
		if hop.From.IsValid() && hop.What != "time exceeded" {
			return r, nil // unreachable: no point going further
		}
	}
	return r, nil
}

// Forwarded is a scenario check: traffic from → to (a node name or an
// address) goes through router: the router answers a hop of the trace and
// the destination is reached, and the router's interface counters rise on
// ingress and egress. On failure the evidence names the cause when it can
// see it, e.g. "router did not forward: ip_forward=0".
func Forwarded(from string, to Target, router string, opts ...Option) scenario.CheckFunc {
	return declare("Forwarded", traceReads, opts, names([]string{from, router}, to), checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		src, rt := n.Node(from), n.Node(router)
		dst, err := resolveFor(n, src, to, opts)
		if err != nil {
			return nil, err
		}
		return forwarded(ctx, n, src, rt, dst, opts)
	}))
}

// ForwardedBy fails the test unless traffic from → to goes through router.
func ForwardedBy(t TestingT, n *scenario.Network, from *scenario.Node, to netip.Addr, router *scenario.Node, opts ...Option) bool {
	helper(t).Helper()
	r, err := forwarded(nodeContext(t), n, from, router, to, opts)
	return report(t, r, err)
}

func forwarded(ctx context.Context, n *scenario.Network, src, rt *scenario.Node, dst netip.Addr, opts []Option) (*TraceResult, error) {
	before := counters(rt)
	r, err := Trace(ctx, src, dst, opts...)
	if err != nil {
		return r, err
	}
	after := counters(rt)
	r.Counters = counterDelta(rt, before, after)
	for i := range r.Hops {
		if ow := owner(n, r.Hops[i].From); ow != nil {
			r.Hops[i].Node = nodeOf(n, ow)
		}
	}
	viaRouter := false
	for _, h := range r.Hops {
		if h.Node == rt.Name() && h.What == "time exceeded" {
			viaRouter = true
		}
	}
	if viaRouter && r.Reached {
		return r, nil
	}
	// Explain from the evidence.
	fwd := "net.ipv4.ip_forward"
	if dst.Is6() {
		fwd = "net.ipv6.conf.all.forwarding"
	}
	v, verr := rt.Sysctl(fwd)
	routerAnswered := false
	for _, h := range r.Hops {
		if h.Node == rt.Name() {
			routerAnswered = true
		}
	}
	switch {
	case verr == nil && v == "0":
		r.Cause = fmt.Sprintf("%s did not forward: %s=0", rt.Name(), fwd)
	case !routerAnswered:
		r.Cause = fmt.Sprintf("%s never answered: the path does not go through it, or it is unreachable", rt.Name())
	case !r.Reached:
		r.Cause = fmt.Sprintf("%s answered but %s was not reached beyond it", rt.Name(), dst)
	}
	r.Walk = WalkPath(src, dst)
	return r, fmt.Errorf("%s → %s is not forwarded by %s: %s", src.Name(), dst, rt.Name(), r.Evidence())
}

func nodeOf(n *scenario.Network, ifc *scenario.Interface) string {
	for _, nd := range n.Nodes() {
		for _, i := range nd.Interfaces() {
			if i == ifc {
				return nd.Name()
			}
		}
	}
	return ""
}

type linkCounters map[string][2]uint64 // name -> rx, tx packets

func counters(nd *scenario.Node) linkCounters {
	out := linkCounters{}
	for _, ifc := range nd.Interfaces() {
		l, err := nd.Netlink().LinkByIndex(ifc.Index)
		if err != nil || l.Attrs().Statistics == nil {
			continue
		}
		out[ifc.Name] = [2]uint64{l.Attrs().Statistics.RxPackets, l.Attrs().Statistics.TxPackets}
	}
	return out
}

func counterDelta(nd *scenario.Node, before, after linkCounters) string {
	var parts []string
	for _, ifc := range nd.Interfaces() {
		b, a := before[ifc.Name], after[ifc.Name]
		parts = append(parts, fmt.Sprintf("%s:%s rx +%d tx +%d", nd.Name(), ifc.Name, a[0]-b[0], a[1]-b[1]))
	}
	return "counters " + strings.Join(parts, ", ")
}
