package assert_test

import (
	"testing"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestRoutesPMTUException: PMTUException fails before a too-big packet
// crossed the narrower r1–r2 link and passes after (Absent the other way
// round); MTULocked passes only once the learned MTU is below min_pmtu
// and the kernel locks the exception at 552, as pmtu.sh checks.
func TestRoutesPMTUException(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, chain())
	check := func(what string, c scenario.CheckFunc, pass bool, want ...string) {
		t.Helper()
		r := c(ctx, n)
		switch {
		case pass && r.Err != nil:
			t.Errorf("%s: %v", what, r.Err)
		case !pass && r.Err == nil:
			t.Errorf("%s passed: %s", what, r.Evidence)
		case !pass && !contains(r.Err.Error(), want...):
			t.Errorf("%s: %v, want %q", what, r.Err, want)
		}
	}
	check("no exception yet", assert.Routes("client", "server", assert.PMTUException()), false, "no PMTU exception cached", "want a cached PMTU exception")
	check("none cached", assert.Routes("client", "server", assert.PMTUException(), assert.Absent()), true)
	check("not locked", assert.Routes("client", "server", assert.MTULocked()), false, "MTU not locked")

	for _, end := range []string{"r1:eth1", "r2:eth0"} {
		if err := n.Apply(ctx, scenario.SetMTU(end, 1280)); err != nil {
			t.Fatal(err)
		}
	}
	server := n.Node("server").IPv4()
	if pr, err := assert.PMTUProbe(ctx, n.Node("client"), server, assert.Size(1400), assert.PathMTU(1280)); err != nil {
		t.Fatalf("no exception learned: %v %v", err, pr)
	}
	check("exception cached", assert.Routes("client", "server", assert.PMTUException(), assert.PathMTU(1280)), true)
	check("exception absent", assert.Routes("client", "server", assert.PMTUException(), assert.Absent()), false, "exists, want none", "(cached PMTU exception)")
	check("1280 not locked", assert.Routes("client", "server", assert.MTULocked()), false, "MTU not locked", "mtu 1280 (cached PMTU exception)")
	// The router's own route to the server has no exception.
	check("router has none", assert.Routes("r1", "server", assert.PMTUException()), false, "no PMTU exception cached")

	// Below min_pmtu (552): the kernel caches 552, locked.
	for _, end := range []string{"r1:eth1", "r2:eth0"} {
		if err := n.Apply(ctx, scenario.SetMTU(end, 500)); err != nil {
			t.Fatal(err)
		}
	}
	if pr, err := assert.PMTUProbe(ctx, n.Node("client"), server, assert.Size(1200), assert.PathMTU(500)); err != nil {
		t.Logf("probe at 500: %v %v", err, pr)
	}
	check("locked exception", assert.Routes("client", "server", assert.PMTUException(), assert.MTULocked(), assert.PathMTU(552)), true)
	check("locked absent", assert.Routes("client", "server", assert.MTULocked(), assert.Absent()), false, "exists, want none", "mtu lock 552")
}
