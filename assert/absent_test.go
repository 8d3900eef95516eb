package assert_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestRouteAbsent: Routes with Absent() passes only when there is no
// route (or, with PathMTU, no exception of that MTU), and fails on the
// network that has one.
func TestRouteAbsent(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, chain())
	r := assert.Routes("client", "server", assert.Absent())(ctx, n)
	if r.Err == nil || !contains(r.Err.Error(), "exists, want none", "want no route") {
		t.Errorf("a route that exists passed Absent: %v %s", r.Err, r.Evidence)
	}
	if r := assert.Routes("r1", "192.0.2.1", assert.Absent())(ctx, n); r.Err != nil {
		t.Errorf("no route failed Absent: %v", r.Err)
	}
	// No PMTU exception yet: "no exception of 1280 cached" holds.
	if r := assert.Routes("client", "server", assert.PathMTU(1280), assert.Absent())(ctx, n); r.Err != nil {
		t.Errorf("no exception yet: %v", r.Err)
	}
	for _, end := range []string{"r1:eth1", "r2:eth0"} {
		if err := n.Apply(ctx, scenario.SetMTU(end, 1280)); err != nil {
			t.Fatal(err)
		}
	}
	server := n.Node("server").IPv4()
	if pr, err := assert.PMTUProbe(ctx, n.Node("client"), server, assert.Size(1400), assert.PathMTU(1280)); err != nil {
		t.Fatalf("no exception learned: %v %v", err, pr)
	}
	r = assert.Routes("client", "server", assert.PathMTU(1280), assert.Absent())(ctx, n)
	if r.Err == nil || !contains(r.Err.Error(), "mtu 1280", "want no route with mtu 1280") {
		t.Errorf("a cached exception passed Absent: %v %s", r.Err, r.Evidence)
	}
}

// TestARPAnsweredWithMAC: ARPAnswered with MAC wants the answer to carry
// exactly that interface's MAC.
func TestARPAnsweredWithMAC(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair())
	if r := assert.ARPAnswered("left", "right", assert.MAC("right:eth0"))(ctx, n); r.Err != nil || !contains(r.Evidence, "want right:eth0's MAC") {
		t.Errorf("the owner's MAC: %v %s", r.Err, r.Evidence)
	}
	r := assert.ARPAnswered("left", "right", assert.MAC("left:eth0"))(ctx, n)
	if r.Err == nil || !contains(r.Err.Error(), "answered by the wrong MAC", "want left:eth0's MAC") {
		t.Errorf("another MAC passed: %v %s", r.Err, r.Evidence)
	}
}

// errs records a testing helper's failures.
type errs []string

func (e *errs) Errorf(format string, args ...any) { *e = append(*e, fmt.Sprintf(format, args...)) }

// TestCheckValidatesFirst: assert.Check refuses a check naming what the
// network lacks, or given an option it does not read, before running it.
func TestCheckValidatesFirst(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair())
	for _, tc := range []struct {
		check scenario.CheckFunc
		want  string
	}{
		{assert.Reach("left", "rihgt"), `scenario "pair": check: target "rihgt" is neither an IP address nor a node`},
		{assert.Reach("left", "right", assert.Port(80)), `assert.Reach does not read option Port`},
		{assert.LinkIs("right:eth1"), `node "right" has no interface "eth1"`},
	} {
		var e errs
		if assert.Check(&e, n, tc.check) || len(e) != 1 || !strings.Contains(e[0], tc.want) {
			t.Errorf("Check: %q, want %s", e, tc.want)
		}
	}
	var e errs
	if !assert.Check(&e, n, assert.Reach("left", "right")) || len(e) > 0 {
		t.Errorf("valid check: %q", e)
	}
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
