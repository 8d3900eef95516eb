package assert

import (
	"github.com/vishvananda/netlink"

	"github.com/vtest-dev/vtest/scenario"
)

// MTULocked expects the route lookup's MTU to be locked ("mtu lock"): a
// route with a locked mtu metric, or a PMTU exception the kernel locked
// because the path MTU it learned was below net.ipv4.route.min_pmtu
// (kernel selftest pmtu.sh's "lock 552"). With Absent: not locked.
func MTULocked() Option { return func(o *Options) { o.MTULocked = true } }

// PMTUException expects the route lookup to carry a cached PMTU exception
// (what ip route get shows as "cache expires … mtu N", learned from an
// ICMP "fragmentation needed" or "packet too big"). With Absent it checks
// that none is cached, as pmtu.sh does after a flush or an MTU rise.
func PMTUException() Option { return func(o *Options) { o.PMTUException = true } }

// routeWant adds the expectations of MTULocked and PMTUException to a
// route lookup's want list.
func routeWant(o Options, want []string) []string {
	if o.MTULocked {
		want = append(want, "mtu lock")
	}
	if o.PMTUException {
		want = append(want, "a cached PMTU exception")
	}
	return want
}

// routeBad adds what a route lookup lacks of MTULocked and PMTUException.
func routeBad(o Options, r *RouteResult, bad []string) []string {
	if o.MTULocked && !r.MTULock {
		bad = append(bad, "MTU not locked")
	}
	if o.PMTUException && !r.Exception {
		bad = append(bad, "no PMTU exception cached")
	}
	return bad
}

// pmtuException reports whether the route the kernel uses to dst carries
// a PMTU exception: its MTU is not the one of the FIB entry it came from
// (RTM_F_FIB_MATCH), so it was learned, not configured.
func pmtuException(nd *scenario.Node, r *RouteResult) bool {
	if r.MTU == 0 {
		return false
	}
	fib, err := nd.Netlink().RouteGetWithOptions(r.Dst.AsSlice(), &netlink.RouteGetOptions{FIBMatch: true})
	if err != nil || len(fib) == 0 {
		return false
	}
	return fib[0].MTU != r.MTU || fib[0].MTULock != r.MTULock
}
