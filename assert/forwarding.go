package assert

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gopacket/gopacket"

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
	// Counters holds, for a forwarding check, how many of the trace's own
	// echo requests each of the router's interfaces received and sent
	// (seen by a packet socket on it), and which interface the request
	// that reached the destination left through.
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
	r := &TraceResult{From: from.Name(), To: to}
	p, err := openProber(from, to.Is6())
	if err != nil {
		return r, err
	}
	defer p.Close()
	return trace(ctx, r, p, o)
}

// trace runs a trace with prober p.
func trace(ctx context.Context, r *TraceResult, p *prober, o Options) (*TraceResult, error) {
	start := time.Now()
	defer func() { r.Elapsed = time.Since(start) }()
	to := r.To
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
// address) goes through router: the router answers a hop of the trace,
// the destination is reached, and the echo request that reached it left
// the router: a packet socket on each of the router's interfaces sees the
// trace's own requests (matched by their payload's random tag), never the
// interface counters. The evidence shows, per interface, how many of them
// came in and went out. On failure it names the cause when it can see
// it, e.g. "router did not forward: ip_forward=0".
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
//
// Deprecated: use assert.Check(t, n, assert.Forwarded(…)).
func ForwardedBy(t TestingT, n *scenario.Network, from *scenario.Node, to netip.Addr, router *scenario.Node, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, n, Forwarded(from.Name(), to, router.Name(), opts...))
}

func forwarded(ctx context.Context, n *scenario.Network, src, rt *scenario.Node, dst netip.Addr, opts []Option) (*TraceResult, error) {
	o, err := build(traceDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	r := &TraceResult{From: src.Name(), To: dst}
	p, err := openProber(src, dst.Is6())
	if err != nil {
		return r, err
	}
	defer p.Close()
	// Which of the trace's own requests left the router (by sequence
	// number, which is the TTL), and through which interface.
	var mu sync.Mutex
	left := map[int]string{}
	var ifaces []string
	for _, ifc := range rt.Interfaces() {
		ifaces = append(ifaces, ifc.Name)
	}
	t, err := openTap(rt, ifaces, func(iface string, pkt gopacket.Packet, outgoing bool) bool {
		seq, ok := p.request(pkt)
		if ok && outgoing {
			mu.Lock()
			if left[seq] == "" {
				left[seq] = iface
			}
			mu.Unlock()
		}
		return ok
	})
	if err != nil {
		return r, fmt.Errorf("forwarded: %w", err)
	}
	r, err = trace(ctx, r, p, o)
	counts, terr := t.stop()
	if err != nil {
		return r, err
	}
	if terr != nil {
		return r, fmt.Errorf("forwarded: %w", terr)
	}
	r.Counters = "the trace's own echo requests at " + ownTraffic(rt.Name(), ifaces, counts)
	last := 0
	if r.Reached {
		last = r.Hops[len(r.Hops)-1].TTL
	}
	mu.Lock()
	lastOut := left[last]
	mu.Unlock()
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
	if r.Reached && lastOut != "" {
		r.Counters += fmt.Sprintf("; the request that reached %s (TTL %d) left %s through %s", dst, last, rt.Name(), lastOut)
	}
	if viaRouter && r.Reached && lastOut != "" {
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
	case lastOut == "":
		r.Cause = fmt.Sprintf("the echo request that reached %s (TTL %d) did not leave %s: it took another path", dst, last, rt.Name())
	}
	r.Walk = WalkPath(src, dst)
	return r, failf(r, "%s → %s is not forwarded by %s", src.Name(), dst, rt.Name())
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
