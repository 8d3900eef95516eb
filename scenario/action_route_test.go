package scenario_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// ecmpOne is the ecmp scenario with r1's route to the server over path a
// only.
func ecmpOne(name string) *scenario.Spec {
	s := scenario.Define(name, "two paths between two routers, one used")
	s.Host("client").Route("default", "r1")
	s.Router("r1").Sysctl("net.ipv4.fib_multipath_hash_policy", "1").
		AddRoute(scenario.RouteSpec{Dst: "10.0.9.0/24", Via: "r2", Dev: "a"})
	s.Router("r2").AddRoute(scenario.RouteSpec{Dst: "10.0.1.0/24", Via: "r1", Dev: "a"})
	s.Host("server").Route("default", "r2")
	s.Link("client", "r1").Subnet("10.0.1.0/24")
	s.Link("r1:a", "r2:a").Subnet("10.0.2.0/24")
	s.Link("r1:b", "r2:b").Subnet("10.0.3.0/24")
	s.Link("r2", "server").Subnet("10.0.9.0/24")
	return s
}

func TestReplaceMultipathValidated(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    scenario.Action
		want string
	}{
		{"no hops", scenario.ReplaceMultipath("r1", "10.0.9.0/24"), "has no nexthops"},
		{"weight", scenario.ReplaceMultipath("r1", "10.0.9.0/24", scenario.Nexthop{Via: "r2", Dev: "a", Weight: 300}), "weight 300 is out of range"},
		{"dev", scenario.ReplaceMultipath("r1", "10.0.9.0/24", scenario.Nexthop{Via: "r2", Dev: "c"}), `interface "c" does not exist on node "r1"`},
		{"node", scenario.ReplaceMultipath("r9", "10.0.9.0/24", scenario.Nexthop{Via: "r2"}), `node "r9" is not defined`},
		{"dst", scenario.ReplaceMultipath("r1", "10.0.9.0/33", scenario.Nexthop{Via: "r2"}), "10.0.9.0/33"},
	} {
		s := ecmpOne("t")
		s.Step("x", tc.a)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestReplaceMultipath: flows are not spread over both paths while r1
// routes over a only; after the step they are, and the evidence lists
// the weights the kernel reports.
func TestReplaceMultipath(t *testing.T) {
	hostcheck.RequireRoot(t)
	ctx := context.Background()
	s := ecmpOne("multipath-step")
	s.Step("both paths", scenario.ReplaceMultipath("r1", "10.0.9.0/24",
		scenario.Nexthop{Via: "r2", Dev: "a", Weight: 1}, scenario.Nexthop{Via: "r2", Dev: "b", Weight: 3}))
	n := scenario.New(t, s)
	spread := assert.Spread("client", "server", "r1", []string{"a", "b"})
	r := spread(ctx, n)
	t.Logf("one path: %v %s %s", r.Err, r.Skip, r.Evidence)
	if r.Err == nil {
		t.Errorf("one path: flows spread over both: %s", r.Evidence)
	}
	ev := step(t, ctx, s, n, "both paths")
	if !strings.Contains(ev, "the kernel lists via 10.0.2.2 dev a weight 1, via 10.0.3.2 dev b weight 3") {
		t.Errorf("evidence: %s", ev)
	}
	r = spread(ctx, n)
	t.Logf("two paths: %v %s %s", r.Err, r.Skip, r.Evidence)
	if r.Err != nil || r.Skip != "" {
		t.Errorf("two paths: %v %s", r.Err, r.Skip)
	}
}
