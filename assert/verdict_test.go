package assert_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
	"github.com/vtest-dev/vtest/scenarios"
)

// TestVerdictOfICMP maps ICMP and ICMPv6 errors to verdicts: a port
// unreachable from the destination itself is a refusal; from anyone else,
// or any other error, a rejection; and each is named with its sender.
func TestVerdictOfICMP(t *testing.T) {
	dst, router := netip.MustParseAddr("10.0.2.2"), netip.MustParseAddr("10.0.1.1")
	dst6, router6 := netip.MustParseAddr("2001:db8:2::2"), netip.MustParseAddr("2001:db8:1::1")
	for _, c := range []struct {
		e    assert.ICMPError
		dst  netip.Addr
		want assert.Verdict
		name string
	}{
		{assert.ICMPError{From: dst, Type: 3, Code: 3}, dst, assert.Refused, "ICMP destination unreachable (port unreachable) from 10.0.2.2"},
		{assert.ICMPError{From: router, Type: 3, Code: 3}, dst, assert.Rejected, "ICMP destination unreachable (port unreachable) from 10.0.1.1"},
		{assert.ICMPError{From: router, Type: 3, Code: 13}, dst, assert.Rejected, "ICMP destination unreachable (administratively prohibited) from 10.0.1.1"},
		{assert.ICMPError{From: dst, Type: 3, Code: 13}, dst, assert.Rejected, "(administratively prohibited) from 10.0.2.2"},
		{assert.ICMPError{From: router, Type: 3, Code: 1}, dst, assert.Rejected, "(host unreachable) from 10.0.1.1"},
		{assert.ICMPError{From: router, Type: 3, Code: 0}, dst, assert.Rejected, "(net unreachable)"},
		{assert.ICMPError{From: router, Type: 11}, dst, assert.Rejected, "ICMP time exceeded from 10.0.1.1"},
		{assert.ICMPError{From: dst6, V6: true, Type: 1, Code: 4}, dst6, assert.Refused, "ICMP destination unreachable (port unreachable) from 2001:db8:2::2"},
		{assert.ICMPError{From: router6, V6: true, Type: 1, Code: 4}, dst6, assert.Rejected, "(port unreachable) from 2001:db8:1::1"},
		{assert.ICMPError{From: router6, V6: true, Type: 1, Code: 1}, dst6, assert.Rejected, "(administratively prohibited)"},
		{assert.ICMPError{From: router6, V6: true, Type: 1, Code: 0}, dst6, assert.Rejected, "(no route)"},
		{assert.ICMPError{From: router6, V6: true, Type: 3}, dst6, assert.Rejected, "ICMP time exceeded"},
		{assert.ICMPError{From: router6, V6: true, Type: 2}, dst6, assert.Rejected, "ICMP packet too big"},
		// An ICMPv4 port unreachable code means something else in ICMPv6
		// (3: address unreachable), and the reverse.
		{assert.ICMPError{From: dst6, V6: true, Type: 1, Code: 3}, dst6, assert.Rejected, "(address unreachable)"},
		{assert.ICMPError{From: dst, Type: 3, Code: 4}, dst, assert.Rejected, "destination unreachable"},
	} {
		if got := c.e.Verdict(c.dst); got != c.want {
			t.Errorf("%+v to %s: %s, want %s", c.e, c.dst, got, c.want)
		}
		if s := c.e.String(); !strings.Contains(s, c.name) {
			t.Errorf("%+v: %q, want it to contain %q", c.e, s, c.name)
		}
	}
}

// TestNoReachBecause: NoReach tells why a destination is not reached, on
// four networks: no route in the source, rejected by an nft reject on the
// router, silently dropped, and reachable (where NoReach fails whatever the
// reason wanted). Each reason passes only on its own network.
func TestNoReachBecause(t *testing.T) {
	hostcheck.RequireRoot(t)
	reasons := []assert.Verdict{assert.NoRoute, assert.Rejected, assert.Filtered}
	for _, c := range []struct {
		name     string
		spec     func() *scenario.Spec
		break_   func(t *testing.T, n *scenario.Network)
		from, to string
		want     assert.Verdict // "": reachable
	}{
		{"no route", scenarios.Routed, func(t *testing.T, n *scenario.Network) { delDefaultRoute(t, n.Node("client")) }, "client", "server", assert.NoRoute},
		{"rejected by nft reject", scenarios.Routed, func(t *testing.T, n *scenario.Network) {
			rejectForwardedICMP(t, n.Node("router"))
			// Four checks of 3 probes each: more ICMP errors than the
			// kernel's rate limit lets through, and a rate-limited
			// rejection is silence.
			setSysctl(t, n.Node("router"), "net.ipv4.icmp_ratelimit", "0")
		}, "client", "server", assert.Rejected},
		{"silently dropped", pair, func(t *testing.T, n *scenario.Network) { dropICMP(t, n.Node("right")) }, "left", "right", assert.Filtered},
		{"reachable", pair, func(*testing.T, *scenario.Network) {}, "left", "right", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := scenario.New(t, c.spec())
			c.break_(t, n)
			for _, v := range reasons {
				rec := &recorder{}
				ok := assert.Check(rec, n, assert.NoReach(c.from, c.to, assert.Because(v), assert.Timeout(300*time.Millisecond)))
				if ok != (v == c.want) {
					t.Errorf("NoReach because %s: passed %v, want %v: %v", v, ok, v == c.want, rec.errs)
				}
				if !ok && c.want != "" && !strings.Contains(strings.Join(rec.errs, "\n"), "but "+string(c.want)+", want "+string(v)) {
					t.Errorf("NoReach because %s: the failure does not say it is %s: %v", v, c.want, rec.errs)
				}
			}
			// Without Because, any reason passes.
			if rec := (&recorder{}); assert.Check(rec, n, assert.NoReach(c.from, c.to, assert.Timeout(300*time.Millisecond))) != (c.want != "") {
				t.Errorf("NoReach: %v", rec.errs)
			}
		})
	}
	// A reason that is none is refused before the check runs.
	n := scenario.New(t, pair())
	rec := &recorder{}
	if assert.Check(rec, n, assert.NoReach("left", "right", assert.Because(assert.Allowed))) || len(rec.errs) == 0 || !strings.Contains(rec.errs[0], "because") {
		t.Errorf("Because(Allowed) accepted: %v", rec.errs)
	}
}
