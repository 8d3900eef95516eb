package scenario_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/scenario"
)

func twoHosts() *scenario.Spec {
	s := scenario.Define("refs", "")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b").Subnet("10.0.0.0/24")
	return s
}

func pass(context.Context, *scenario.Network) scenario.Result { return scenario.Result{} }

// TestDeclaredCheckRefs: a check made with Declare is validated with the
// topology like a step; a plain CheckFunc is not looked into (it is never
// called before the network exists).
func TestDeclaredCheckRefs(t *testing.T) {
	for _, tc := range []struct {
		refs scenario.CheckRefs
		want string
	}{
		{scenario.CheckRefs{Nodes: []string{"c"}}, `scenario "refs": check "x": node "c" is not defined (fix: define it with Host, Router or Switch, or fix the name)`},
		{scenario.CheckRefs{Ends: []string{"a:eth5"}}, `check "x": node "a" has no interface "eth5" (fix: use one of: eth0)`},
		{scenario.CheckRefs{Ends: []string{"a"}}, `check "x": "a" does not name an interface`},
		{scenario.CheckRefs{Targets: []string{"bb"}}, `check "x": target "bb" is neither an IP address nor a node (fix: name a node (a, b) or write an address like 10.0.0.1)`},
		{scenario.CheckRefs{Problems: []scenario.CheckProblem{{Problem: "option Port is not read", Fix: "remove it"}}}, `check "x": option Port is not read (fix: remove it)`},
	} {
		s := twoHosts()
		s.Check("x", scenario.Declare(pass, tc.refs))
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want %s", err, tc.want)
		}
	}
	s := twoHosts()
	s.Check("ok", scenario.Declare(pass, scenario.CheckRefs{Nodes: []string{"a"}, Ends: []string{"a:eth0", "b:lo"}, Targets: []string{"b", "192.0.2.1", "fd00::1"}}))
	called := false
	s.Check("plain", func(context.Context, *scenario.Network) scenario.Result { called = true; return scenario.Result{} })
	if err := s.Validate(); err != nil {
		t.Errorf("valid refs: %v", err)
	}
	if called {
		t.Error("Validate called a plain check")
	}
}

// TestDeclareRunsTheCheck: a declared check runs the check it declares,
// and RefsOf tells declared checks from others, however they are made.
func TestDeclareRunsTheCheck(t *testing.T) {
	ran := 0
	c := scenario.Declare(func(context.Context, *scenario.Network) scenario.Result {
		ran++
		return scenario.Result{Evidence: "ran"}
	}, scenario.CheckRefs{Nodes: []string{"a"}})
	if r := c(context.Background(), &scenario.Network{}); r.Evidence != "ran" || ran != 1 {
		t.Errorf("declared check did not run: %+v, %d", r, ran)
	}
	if refs, ok := scenario.RefsOf(c); !ok || len(refs.Nodes) != 1 || refs.Nodes[0] != "a" || ran != 1 {
		t.Errorf("RefsOf = %+v, %v (ran %d)", refs, ok, ran)
	}
	if _, ok := scenario.RefsOf(pass); ok {
		t.Error("RefsOf a plain function claims refs")
	}
	if _, ok := scenario.RefsOf(nil); ok {
		t.Error("RefsOf nil claims refs")
	}
	if _, ok := scenario.RefsOf(makeDeclared()); !ok {
		t.Error("RefsOf misses a declared check made elsewhere")
	}
}

func makeDeclared() scenario.CheckFunc { return scenario.Declare(pass, scenario.CheckRefs{}) }

// TestIPv6BelowMinimumMTU: IPv6 on a link or interface with an MTU below
// 1280 is refused before the build (where it failed with "invalid
// argument"), with the fix; IPv4 on such a link is fine.
func TestIPv6BelowMinimumMTU(t *testing.T) {
	s := scenario.Define("small", "")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b").Subnet("10.0.0.0/24").Subnet("fd00:1::/64").MTU(1000)
	err := s.Validate()
	want := `scenario "small": link a:eth0—b:eth0: MTU 1000 is below 1280, the smallest IPv6 allows, but it has IPv6 addresses (fd00:1::1/64 on a:eth0, fd00:1::2/64 on b:eth0): Linux refuses them (fix: raise the MTU to 1280 or more`
	if err == nil || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), "MTU 1000") != 1 {
		t.Errorf("Validate = %v\nwant %s", err, want)
	}
	s = scenario.Define("auto6", "")
	s.IPv6 = true
	s.Host("a")
	s.Host("b")
	s.Link("a", "b").MTU(600)
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "MTU 600 is below 1280") {
		t.Errorf("automatic IPv6: %v", err)
	}
	s = scenario.Define("iface6", "")
	s.Host("a").Iface("d0", scenario.Dummy{}).MTU(1200).Addrs("fd00:9::1/64")
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), `node "a" interface "d0": MTU 1200 is below 1280`) {
		t.Errorf("interface: %v", err)
	}
	for _, ok := range []*scenario.Spec{
		func() *scenario.Spec {
			s := scenario.Define("v4", "")
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").MTU(576)
			return s
		}(),
		func() *scenario.Spec {
			s := scenario.Define("v6", "")
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Subnet("fd00:1::/64").MTU(1280)
			return s
		}(),
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%s: %v", ok.Name, err)
		}
	}
}

// TestDownMessages: Down naming lo, or an interface of a node without any,
// says what is wrong and what to do.
func TestDownMessages(t *testing.T) {
	s := twoHosts()
	s.Host("c").Down("lo")
	s.Host("d").Down("eth0")
	s.Host("e").Down("eth9")
	s.Link("e", "c")
	err := s.Validate()
	for _, want := range []string{
		`node "c": Down names "lo", the loopback device, which every node keeps up (local traffic and checks need it) (fix: remove "lo" from Down; to cut the node off, leave its links down instead`,
		`node "d": Down names "eth0", but the node has no interfaces (fix: define the interface with Link or Iface, or remove it from Down)`,
		`node "e": Down names "eth9", which is not one of its interfaces (fix: name one of its interfaces: eth0)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v\nwant %s", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "it has none") {
		t.Errorf("message still says \"name one of it has none\": %v", err)
	}
}
