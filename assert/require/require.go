// Package require has the testing helpers of package assert in a form that
// stops the test at the first failure, like testify's require.
package require

import (
	"net"
	"net/netip"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// TestingT is what the helpers need of a test: testify's require.TestingT
// method set (assert.TestingT plus FailNow). Helper is used when present.
type TestingT interface {
	assert.TestingT
	FailNow()
}

// helper returns t's Helper method where t has one; call it as
// helper(t).Helper() (see assert's helper).
func helper(t TestingT) interface{ Helper() } {
	if h, ok := t.(interface{ Helper() }); ok {
		return h
	}
	return noHelper{}
}

type noHelper struct{}

func (noHelper) Helper() {}

// Check is assert.Check, stopping the test on failure: any scenario check
// as a testing helper.
func Check(t TestingT, n *scenario.Network, c scenario.CheckFunc) {
	helper(t).Helper()
	if !assert.Check(t, n, c) {
		t.FailNow()
	}
}

// Reachable is assert.Reachable, stopping the test on failure.
func Reachable(t TestingT, from *scenario.Node, to assert.Target, opts ...assert.Option) {
	helper(t).Helper()
	if !assert.Reachable(t, from, to, opts...) {
		t.FailNow()
	}
}

// Unreachable is assert.Unreachable, stopping the test on failure.
func Unreachable(t TestingT, from *scenario.Node, to assert.Target, opts ...assert.Option) {
	helper(t).Helper()
	if !assert.Unreachable(t, from, to, opts...) {
		t.FailNow()
	}
}

// CanConnect is assert.CanConnect, stopping the test on failure.
func CanConnect(t TestingT, from *scenario.Node, to assert.Target, port int, opts ...assert.Option) {
	helper(t).Helper()
	if !assert.CanConnect(t, from, to, port, opts...) {
		t.FailNow()
	}
}

// ARPResolves is assert.ARPResolves, stopping the test on failure.
func ARPResolves(t TestingT, from *scenario.Node, iface string, ip netip.Addr, want net.HardwareAddr, opts ...assert.Option) {
	helper(t).Helper()
	if !assert.ARPResolves(t, from, iface, ip, want, opts...) {
		t.FailNow()
	}
}

// ARPIgnored is assert.ARPIgnored, stopping the test on failure.
func ARPIgnored(t TestingT, from *scenario.Node, iface string, ip netip.Addr, opts ...assert.Option) {
	helper(t).Helper()
	if !assert.ARPIgnored(t, from, iface, ip, opts...) {
		t.FailNow()
	}
}

// LatencyMeets is assert.LatencyMeets, stopping the test on failure.
func LatencyMeets(t TestingT, from *scenario.Node, to assert.Target, bounds []assert.Bound, opts ...assert.Option) {
	helper(t).Helper()
	if !assert.LatencyMeets(t, from, to, bounds, opts...) {
		t.FailNow()
	}
}

// ForwardedBy is assert.ForwardedBy, stopping the test on failure.
func ForwardedBy(t TestingT, n *scenario.Network, from *scenario.Node, to netip.Addr, router *scenario.Node, opts ...assert.Option) {
	helper(t).Helper()
	if !assert.ForwardedBy(t, n, from, to, router, opts...) {
		t.FailNow()
	}
}

// SourceIs is assert.SourceIs, stopping the test on failure.
func SourceIs(t TestingT, from, to *scenario.Node, dst, want netip.Addr, opts ...assert.Option) {
	helper(t).Helper()
	if !assert.SourceIs(t, from, to, dst, want, opts...) {
		t.FailNow()
	}
}
