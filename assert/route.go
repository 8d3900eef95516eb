package assert

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	"github.com/vtest-dev/vtest/scenario"
)

// RouteResult is the evidence of a route lookup (RTM_GETROUTE, ip route
// get) in a node: what the kernel would do with a packet to Dst.
type RouteResult struct {
	Node string
	Dst  netip.Addr
	// Err is why there is no route ("network is unreachable"), or "".
	Err     string
	Dev     string
	Gateway netip.Addr
	Source  netip.Addr
	// MTU is the route's MTU when it has one: a PMTU exception (learned
	// from an ICMP "fragmentation needed"/"packet too big") or an mtu
	// metric; 0 means the device's MTU applies. MTULock is "mtu lock".
	MTU     int
	MTULock bool
	// Exception is true when the MTU is a cached PMTU exception, not the
	// route's own mtu metric.
	Exception bool
	Want      string
}

// Evidence renders the lookup like ip route get.
func (r *RouteResult) Evidence() string {
	if r.Err != "" {
		return fmt.Sprintf("%s route get %s: %s; want %s", r.Node, r.Dst, r.Err, r.Want)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s route get %s: dev %s", r.Node, r.Dst, r.Dev)
	if r.Gateway.IsValid() {
		fmt.Fprintf(&b, " via %s", r.Gateway)
	}
	if r.Source.IsValid() {
		fmt.Fprintf(&b, " src %s", r.Source)
	}
	if r.MTU > 0 {
		lock := ""
		if r.MTULock {
			lock = "lock "
		}
		fmt.Fprintf(&b, " mtu %s%d", lock, r.MTU)
		if r.Exception {
			b.WriteString(" (cached PMTU exception)")
		}
	}
	if r.Want != "" {
		fmt.Fprintf(&b, "; want %s", r.Want)
	}
	return b.String()
}

// RouteLookup asks a node's kernel for its route to dst and checks it
// against what the options expect: Via(dev), Gateway(addr), Source(addr),
// PathMTU(mtu) (a PMTU exception, e.g. after an ICMP "fragmentation
// needed"), MTULocked() ("mtu lock"), PMTUException() (an exception is
// cached, whatever its MTU). With no expectation it only requires a route. Absent()
// turns it round: no route at all, or with expectations no route as they
// describe (PathMTU(1400) with Absent: no exception of MTU 1400 cached).
func RouteLookup(ctx context.Context, nd *scenario.Node, dst netip.Addr, opts ...Option) (*RouteResult, error) {
	o, err := build(Options{}, opts)
	if err != nil {
		return nil, fmt.Errorf("route: %w", err)
	}
	r := lookupRoute(nd, dst)
	var want []string
	if o.Interface != "" {
		want = append(want, "dev "+o.Interface)
	}
	if o.Gateway != "" {
		want = append(want, "via "+o.Gateway)
	}
	if o.Source.IsValid() {
		want = append(want, "src "+o.Source.String())
	}
	if o.PathMTU > 0 {
		want = append(want, fmt.Sprintf("mtu %d", o.PathMTU))
	}
	want = routeWant(o, want)
	r.Want = strings.Join(want, " ")
	if r.Want == "" {
		r.Want = "a route"
	}
	var bad []string
	switch {
	case r.Err != "":
		bad = append(bad, "no route")
	default:
		if o.Interface != "" && r.Dev != o.Interface {
			bad = append(bad, "device "+r.Dev)
		}
		if o.Gateway != "" && r.Gateway.String() != o.Gateway {
			bad = append(bad, "gateway "+addrOrNone(r.Gateway))
		}
		if o.Source.IsValid() && r.Source != o.Source {
			bad = append(bad, "source "+addrOrNone(r.Source))
		}
		if o.PathMTU > 0 && r.MTU != o.PathMTU {
			bad = append(bad, fmt.Sprintf("path MTU %d", r.MTU))
		}
		bad = routeBad(o, r, bad)
	}
	if o.Absent {
		if r.Want == "a route" {
			r.Want = "no route"
		} else {
			r.Want = "no route with " + r.Want
		}
		if r.Err == "" && len(bad) == 0 {
			return r, fmt.Errorf("%s's route to %s exists, want none: %s", nd.Name(), dst, r.Evidence())
		}
		return r, nil
	}
	if len(bad) > 0 {
		return r, fmt.Errorf("%s's route to %s: %s: %s", nd.Name(), dst, strings.Join(bad, ", "), r.Evidence())
	}
	return r, nil
}

func addrOrNone(a netip.Addr) string {
	if !a.IsValid() {
		return "none"
	}
	return a.String()
}

// lookupRoute runs RTM_GETROUTE in the node.
func lookupRoute(nd *scenario.Node, dst netip.Addr) *RouteResult {
	r := &RouteResult{Node: nd.Name(), Dst: dst}
	routes, err := nd.Netlink().RouteGet(dst.AsSlice())
	switch {
	case errors.Is(err, syscall.ENETUNREACH):
		r.Err = "network is unreachable"
	case errors.Is(err, syscall.EHOSTUNREACH):
		r.Err = "no route to host"
	case err != nil:
		r.Err = err.Error()
	case len(routes) == 0:
		r.Err = "no route"
	}
	if r.Err != "" {
		return r
	}
	rt := routes[0]
	r.Dev = ifaceName(nd, rt.LinkIndex)
	if a, ok := netip.AddrFromSlice(rt.Gw); ok {
		r.Gateway = a.Unmap()
	}
	if a, ok := netip.AddrFromSlice(rt.Src); ok {
		r.Source = a.Unmap()
	}
	r.MTU, r.MTULock = rt.MTU, rt.MTULock
	r.Exception = pmtuException(nd, r)
	return r
}

// Routes is a scenario check of a node's route to target (a node name or
// an address); see RouteLookup.
func Routes(node string, target Target, opts ...Option) scenario.CheckFunc {
	return named("Routes", routeReads, RouteLookup, node, target, opts)
}

// RoutesAs fails the test unless the node's route to target is as
// expected; see RouteLookup.
//
// Deprecated: use assert.Check(t, n, assert.Routes(…)).
func RoutesAs(t TestingT, nd *scenario.Node, target Target, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, nd.Network(), Routes(nd.Name(), target, opts...))
}
