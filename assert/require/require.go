// Package require has the testing helpers of package assert in a form that
// stops the test at the first failure, like testify's require.
package require

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// Reachable is assert.Reachable, stopping the test on failure.
func Reachable(t testing.TB, from *scenario.Node, to assert.Target, opts ...assert.Option) {
	t.Helper()
	if !assert.Reachable(t, from, to, opts...) {
		t.FailNow()
	}
}

// Unreachable is assert.Unreachable, stopping the test on failure.
func Unreachable(t testing.TB, from *scenario.Node, to assert.Target, opts ...assert.Option) {
	t.Helper()
	if !assert.Unreachable(t, from, to, opts...) {
		t.FailNow()
	}
}

// CanConnect is assert.CanConnect, stopping the test on failure.
func CanConnect(t testing.TB, from *scenario.Node, to assert.Target, port int, opts ...assert.Option) {
	t.Helper()
	if !assert.CanConnect(t, from, to, port, opts...) {
		t.FailNow()
	}
}

// ARPResolves is assert.ARPResolves, stopping the test on failure.
func ARPResolves(t testing.TB, from *scenario.Node, iface string, ip netip.Addr, want net.HardwareAddr, opts ...assert.Option) {
	t.Helper()
	if !assert.ARPResolves(t, from, iface, ip, want, opts...) {
		t.FailNow()
	}
}

// ARPIgnored is assert.ARPIgnored, stopping the test on failure.
func ARPIgnored(t testing.TB, from *scenario.Node, iface string, ip netip.Addr, opts ...assert.Option) {
	t.Helper()
	if !assert.ARPIgnored(t, from, iface, ip, opts...) {
		t.FailNow()
	}
}

// LatencyMeets is assert.LatencyMeets, stopping the test on failure.
func LatencyMeets(t testing.TB, from *scenario.Node, to assert.Target, bounds []assert.Bound, opts ...assert.Option) {
	t.Helper()
	if !assert.LatencyMeets(t, from, to, bounds, opts...) {
		t.FailNow()
	}
}

// ForwardedBy is assert.ForwardedBy, stopping the test on failure.
func ForwardedBy(t testing.TB, n *scenario.Network, from *scenario.Node, to netip.Addr, router *scenario.Node, opts ...assert.Option) {
	t.Helper()
	if !assert.ForwardedBy(t, n, from, to, router, opts...) {
		t.FailNow()
	}
}

// SourceIs is assert.SourceIs, stopping the test on failure.
func SourceIs(t testing.TB, from, to *scenario.Node, dst, want netip.Addr, opts ...assert.Option) {
	t.Helper()
	if !assert.SourceIs(t, from, to, dst, want, opts...) {
		t.FailNow()
	}
}
