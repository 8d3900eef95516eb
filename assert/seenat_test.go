package assert_test

import (
	"testing"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// diamond: client – r1, then two paths r1 – r2a – server:eth0 and
// r1 – r2b – server:eth1; r1 routes the server's eth0 subnet via r2a, or
// (broken) via r2b.
func diamond(broken bool) *scenario.Spec {
	s := scenario.Define("diamond", "")
	s.Host("client").Route("default", "r1")
	via := "r2a"
	if broken {
		via = "r2b"
	}
	s.Router("r1").Route("10.0.5.0/24", via)
	s.Router("r2a")
	s.Router("r2b").Route("10.0.5.0/24", "server")
	s.Host("server").Route("default", "r2a")
	s.Link("client", "r1").Subnet("10.0.1.0/24")
	s.Link("r1:eth1", "r2a:eth0").Subnet("10.0.2.0/24")
	s.Link("r1:eth2", "r2b:eth0").Subnet("10.0.3.0/24")
	s.Link("r2a:eth1", "server:eth0").Subnet("10.0.5.0/24")
	s.Link("r2b:eth1", "server:eth1").Subnet("10.0.6.0/24")
	return s
}

// TestSeenAt: one send of 3 tagged datagrams is counted at every
// interface of its path (3 each) and at none of the other path (0); when
// r1 routes it the other way the same check fails naming both
// interfaces. Frames the check did not send (ARP) are not counted.
func TestSeenAt(t *testing.T) {
	hostcheck.RequireRoot(t)
	want := map[string]int{"client:eth0": 3, "r1:eth0": 3, "r1:eth1": 3, "r2a:eth1": 3, "server:eth0": 3, "r1:eth2": 0, "r2b:eth0": 0, "server:eth1": 0}
	check := assert.SeenAt("client", "10.0.5.2", want)

	good := scenario.New(t, diamond(false))
	if err := good.ValidateCheck(check); err != nil {
		t.Fatal(err)
	}
	if r := check(ctx, good); r.Err != nil {
		t.Errorf("working path: %v", r.Err)
	} else if !contains(r.Evidence, "3 tagged UDP datagrams sent", "r2a:eth1", "saw 3, want 3", "r2b:eth0", "saw 0, want 0") {
		t.Errorf("evidence: %s", r.Evidence)
	}
	// Count(2): the interfaces that want 3 see 2.
	if r := assert.SeenAt("client", "10.0.5.2", map[string]int{"r1:eth1": 3}, assert.Count(2), assert.Timeout(300e6))(ctx, good); r.Err == nil || !contains(r.Err.Error(), "r1:eth1 saw 2, want 3") {
		t.Errorf("fewer datagrams passed: %v", r.Err)
	}

	broken := scenario.New(t, diamond(true))
	r := check(ctx, broken)
	if r.Err == nil || !contains(r.Err.Error(), "r1:eth1 saw 0, want 3", "r1:eth2 saw 3, want 0", "r2b:eth0 saw 3, want 0") {
		t.Errorf("the other path passed: %v\n%s", r.Err, r.Evidence)
	}

	for _, tc := range []struct {
		c    scenario.CheckFunc
		want string
	}{
		{assert.SeenAt("client", "10.0.5.2", map[string]int{"r9:eth0": 1}), `"r9"`},
		{assert.SeenAt("client", "10.0.5.2", map[string]int{"r1:eth7": 1}), `node "r1" has no interface "eth7"`},
		{assert.SeenAt("client", "10.0.5.2", map[string]int{"r1:eth0": -1}), "count -1 at r1:eth0 is negative"},
		{assert.SeenAt("client", "10.0.5.2", nil), "names no interface"},
		{assert.SeenAt("client", "10.0.5.2", want, assert.Absent()), "does not read option Absent"},
	} {
		if err := good.ValidateCheck(tc.c); err == nil || !contains(err.Error(), tc.want) {
			t.Errorf("validate: %v, want %s", err, tc.want)
		}
	}
}

// TestSeenAtEncapsulated: the tag is found inside VXLAN too: one send
// from h1 to h2 is counted on the overlay (vx0), on the underlay of both
// VTEPs and at the router between them. With the VNIs apart, vtep-b
// receives the encapsulated datagrams but its bridge never passes them
// to h2.
func TestSeenAtEncapsulated(t *testing.T) {
	hostcheck.RequireRoot(t)
	want := map[string]int{"h1:eth0": 3, "vtep-a:vx0": 3, "vtep-a:eth0": 3, "router:eth0": 3, "router:eth1": 3, "vtep-b:eth0": 3, "vtep-b:vx0": 3, "h2:eth0": 3}
	check := assert.SeenAt("h1", "192.168.50.2", want)
	n := scenario.New(t, overlay(42, 42))
	// Learn h2's MAC first: the datagrams then go unicast to vtep-b.
	if r := assert.Reach("h1", "192.168.50.2")(ctx, n); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := check(ctx, n); r.Err != nil {
		t.Errorf("overlay: %v", r.Err)
	}
	apart := scenario.New(t, overlay(42, 43))
	r := check(ctx, apart)
	if r.Err == nil || !contains(r.Err.Error(), "h2:eth0 saw 0, want 3", "vtep-b:vx0 saw 0, want 3") {
		t.Errorf("VNIs apart passed: %v\n%s", r.Err, r.Evidence)
	}
}
