package scenario_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

func statuses(out scenario.Outcome) string {
	var parts []string
	for _, c := range out.Checks {
		parts = append(parts, string(c.Kind)+":"+c.Name+"="+string(c.Status))
	}
	return strings.Join(parts, " ")
}

func TestFailedStepStopsTheScenario(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := pair("step-fails")
	s.Check("before", assert.Reach("left", "right"))
	s.StepFunc("break", func(ctx context.Context, n *scenario.Network) error { return errors.New("cannot do it") })
	s.Check("after", assert.Reach("left", "right"))
	s.Step("later step", scenario.LinkDown("left:eth0"))
	out := scenario.Run(context.Background(), s, scenario.RunOptions{})
	if out.Status != scenario.Fail || out.Step != "step break" || !strings.Contains(out.Message, "cannot do it") {
		t.Fatalf("outcome %s %q %q", out.Status, out.Step, out.Message)
	}
	want := "check:before=PASS step:break=FAIL check:after=SKIP step:later step=SKIP"
	if got := statuses(out); got != want {
		t.Fatalf("items %q, want %q", got, want)
	}
	if m := out.Checks[2].Message; m != `not run: step "break" failed` {
		t.Errorf("not-run message %q", m)
	}
}

// TestRunFilterKeepsSteps: selecting a later check runs the steps before
// it; the check passes only because the step ran.
func TestRunFilterKeepsSteps(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := pair("step-filter")
	s.Check("first", assert.Reach("left", "right"))
	s.Step("add an address", scenario.AddAddr("right:eth0", "10.250.0.2/24"))
	s.Step("and one on the left", scenario.AddAddr("left:eth0", "10.250.0.1/24"))
	s.Check("second", assert.Reach("left", "10.250.0.2", assert.Timeout(300*time.Millisecond)))
	out := scenario.Run(context.Background(), s, scenario.RunOptions{Filter: func(c string) bool { return c == "second" }})
	want := "step:add an address=PASS step:and one on the left=PASS check:second=PASS"
	if got := statuses(out); got != want || out.Status != scenario.Pass {
		t.Fatalf("%s: items %q, want %q: %s", out.Status, got, want, out.Message)
	}
	// Without the steps, the same check fails: it depends on them.
	s2 := pair("no-step")
	s2.Check("second", assert.Reach("left", "10.250.0.2", assert.Timeout(300*time.Millisecond)))
	if out := scenario.Run(context.Background(), s2, scenario.RunOptions{}); out.Status != scenario.Fail {
		t.Fatalf("check passed without the step: %s", statuses(out))
	}
}

func TestActionsValidated(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  func(s *scenario.Spec)
		want []string
	}{
		{"missing node", func(s *scenario.Spec) { s.Step("x", scenario.LinkDown("nope:eth0")) }, []string{`step "x"`, `node "nope" is not defined`, "fix:"}},
		{"missing interface", func(s *scenario.Spec) { s.Step("x", scenario.LinkUp("left:eth7")) }, []string{`node "left" has no interface "eth7"`, "use one of: eth0"}},
		{"not an end", func(s *scenario.Spec) { s.Step("x", scenario.SetMTU("left", 1400)) }, []string{"does not name an interface", "node:interface"}},
		{"bad MTU", func(s *scenario.Spec) { s.Step("x", scenario.SetMTU("left:eth0", 20)) }, []string{"MTU 20 is out of range"}},
		{"bad CIDR", func(s *scenario.Spec) { s.Step("x", scenario.AddAddr("left:eth0", "10.0.0.300/24")) }, []string{"not a valid CIDR"}},
		{"bad gateway", func(s *scenario.Spec) { s.Step("x", scenario.AddRoute("left", "10.9.0.0/16", "ghost")) }, []string{`gateway "ghost"`}},
		{"bad sysctl", func(s *scenario.Spec) { s.Step("x", scenario.SetSysctl("left", "kernel.panic", "1")) }, []string{"not a network sysctl"}},
		{"stop unstarted", func(s *scenario.Spec) { s.Step("x", scenario.StopProcess("left", "daemon")) }, []string{`no step starts a process "daemon"`}},
		{"flap count", func(s *scenario.Spec) { s.Step("x", scenario.Flap("left:eth0", 0, time.Second)) }, []string{"flap count 0"}},
		{"unknown port flag", func(s *scenario.Spec) { s.Step("x", scenario.SetPortFlag("left:eth0", "stp", true)) }, []string{`bridge port flag "stp" is unknown`}},
		{"empty impairment", func(s *scenario.Spec) { s.Step("x", scenario.SetImpairment("left:eth0", scenario.Impairment{})) }, []string{"the impairment is empty"}},
		{"impairment rate", func(s *scenario.Spec) {
			s.Step("x", scenario.SetImpairment("left:eth0", scenario.Impairment{Rate: 100}))
		}, []string{"rate 100 bit/s is too low"}},
		{"duplicate names", func(s *scenario.Spec) {
			s.Step("x", scenario.LinkDown("left:eth0"))
			s.Check("x", assert.Reach("left", "right"))
		}, []string{`check "x": is defined twice`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := pair("t")
			tc.add(s)
			err := s.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q missing from %v", w, err)
				}
			}
		})
	}
}

func TestActions(t *testing.T) {
	hostcheck.RequireRoot(t)
	ctx := context.Background()
	n := scenario.New(t, routed())
	client, router := n.Node("client"), n.Node("router")
	oper := func(nd *scenario.Node, iface string) netlink.LinkOperState {
		l, err := nd.Netlink().LinkByName(iface)
		if err != nil {
			t.Fatal(err)
		}
		return l.Attrs().OperState
	}
	apply := func(a scenario.Action) {
		t.Helper()
		if err := n.Apply(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	apply(scenario.LinkDown("router:eth1"))
	if st := oper(router, "eth1"); st != netlink.OperDown {
		t.Errorf("after LinkDown: %s", st)
	}
	apply(scenario.LinkUp("router:eth1"))
	if st := oper(router, "eth1"); st != netlink.OperUp {
		t.Errorf("after LinkUp: %s (LinkUp must return once up)", st)
	}
	apply(scenario.Flap("router:eth1", 2, 10*time.Millisecond))
	if st := oper(router, "eth1"); st != netlink.OperUp {
		t.Errorf("after Flap: %s", st)
	}
	apply(scenario.SetMTU("client:eth0", 1300))
	if l, _ := client.Netlink().LinkByName("eth0"); l.Attrs().MTU != 1300 {
		t.Errorf("MTU %d", l.Attrs().MTU)
	}
	apply(scenario.DelRoute("client", "default"))
	if assert.Reachable(&quietT{TB: t}, client, n.Node("server"), assert.Timeout(100*time.Millisecond)) {
		t.Error("reachable without a default route")
	}
	apply(scenario.AddRoute("client", "default", "router"))
	assert.Reachable(t, client, n.Node("server"))
	apply(scenario.ReplaceRoute("client", "10.0.2.0/24", "10.0.1.2"))
	apply(scenario.SetSysctl("router", "net.ipv4.ip_forward", "0"))
	if v, _ := router.Sysctl("net.ipv4.ip_forward"); v != "0" {
		t.Errorf("ip_forward=%s", v)
	}
	apply(scenario.AddAddr("server:eth0", "10.0.2.77/24"))
	apply(scenario.SetSysctl("router", "net.ipv4.ip_forward", "1"))
	assert.Reachable(t, client, "10.0.2.77")
	apply(scenario.DelAddr("server:eth0", "10.0.2.77/24"))
	apply(scenario.StartProcess("server", "sleeper", "sleep", "1000"))
	apply(scenario.StopProcess("server", "sleeper"))
	apply(scenario.SetImpairment("client:eth0", scenario.Impairment{Rate: 1_000_000}))
	qdisc := func() string {
		l, _ := client.Netlink().LinkByName("eth0")
		qs, _ := client.Netlink().QdiscList(l)
		for _, q := range qs {
			if q.Attrs().Parent == netlink.HANDLE_ROOT {
				return q.Type()
			}
		}
		return ""
	}
	if q := qdisc(); q != "tbf" {
		t.Errorf("root qdisc after SetImpairment: %q", q)
	}
	apply(scenario.ClearImpairment("client:eth0"))
	if q := qdisc(); q == "tbf" {
		t.Errorf("root qdisc after ClearImpairment: %q", q)
	}
	if err := n.Apply(ctx, scenario.ClearImpairment("client:eth0")); err == nil || !strings.Contains(err.Error(), "has no impairment") {
		t.Errorf("clearing twice: %v", err)
	}
	if err := n.Apply(ctx, scenario.SetPortFlag("client:eth0", scenario.PortFlood, false)); err == nil || !strings.Contains(err.Error(), "not a bridge port") {
		t.Errorf("port flag on a non-port: %v", err)
	}
	apply(scenario.LinkDelete("router:eth1"))
	if _, err := n.Node("server").Netlink().LinkByName("eth0"); err == nil {
		t.Error("the veth peer survived LinkDelete")
	}
	if err := n.Apply(ctx, scenario.LinkDown("router:eth1")); err == nil {
		t.Error("LinkDown of a deleted interface passed")
	}
}

// quietT records failures without failing the test.
type quietT struct {
	testing.TB
	failed bool
}

func (q *quietT) Errorf(string, ...any) { q.failed = true }
func (q *quietT) Logf(string, ...any)   {}
func (q *quietT) Helper()               {}

func routed() *scenario.Spec {
	s := scenario.Define("routed", "")
	s.Host("client").Route("default", "router")
	s.Router("router")
	s.Host("server").Route("default", "router")
	s.Link("client", "router").Subnet("10.0.1.0/24")
	s.Link("router", "server").Subnet("10.0.2.0/24")
	return s
}

func TestWaitForGivesUpAtItsBound(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair("wait"))
	never := func(context.Context, *scenario.Network) scenario.Result {
		return scenario.Verdict("", errors.New("not yet"))
	}
	start := time.Now()
	err := n.Apply(context.Background(), scenario.WaitFor(never, 100*time.Millisecond, 10*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "not met within 100ms") || !strings.Contains(err.Error(), "not yet") {
		t.Fatalf("%v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("WaitFor took %v for a 100ms bound", d)
	}
	if err := n.Apply(context.Background(), scenario.WaitFor(assert.Reach("left", "right"), time.Second, 0)); err != nil {
		t.Fatalf("WaitFor on a working network: %v", err)
	}
}
