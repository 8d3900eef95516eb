package catalogue_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/catalogue"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
	_ "github.com/vtest-dev/vtest/scenarios" // registers the built-in scenarios
)

// TestCasesValidate: every case's scenario is a valid definition, and the
// catalogue has at least 20 faults and a healthy case or more.
func TestCasesValidate(t *testing.T) {
	faults, healthy := 0, 0
	names := map[string]bool{}
	for _, c := range catalogue.Cases() {
		if err := c.Spec.Validate(); err != nil {
			t.Errorf("%s: %v", c.Spec.Name, err)
		}
		if names[c.Spec.Name] || !strings.HasPrefix(c.Spec.Name, "walk-") {
			t.Errorf("scenario name %q: want a unique walk-<fault>", c.Spec.Name)
		}
		names[c.Spec.Name] = true
		if c.Healthy() {
			healthy++
			continue
		}
		faults++
		if c.Node == "" || c.Cause == "" {
			t.Errorf("%s: the verdict names no node or cause", c.Fault)
		}
	}
	if faults < 20 || healthy < 1 {
		t.Errorf("%d faults and %d healthy cases, want ≥ 20 and ≥ 1", faults, healthy)
	}
}

// TestJudge: a diagnosis is right only with the node and the interface
// as words and the cause.
func TestJudge(t *testing.T) {
	c := catalogue.Case{Fault: "f", Node: "sw1", Iface: "trunk", Cause: "is down"}
	for d, ok := range map[string]bool{
		"forward path: sw1: trunk is down":  true,
		"forward path: sw10: trunk is down": false,
		"forward path: sw1: trunk2 is down": false,
		"forward path: sw1: trunk has none": false,
		"":                                  false,
	} {
		if got := c.Judge(d) == ""; got != ok {
			t.Errorf("Judge(%q) = %q, want right=%v", d, c.Judge(d), ok)
		}
	}
}

// TestWalkNamesEveryFault runs every case: the fault stops the traffic
// and the walk names its node, interface and cause (a healthy case passes
// traffic and the walk finds no break). A case needing a kernel feature
// the host lacks is skipped with the probe's reason (make kernel-check
// runs it in the VMs).
func TestWalkNamesEveryFault(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, c := range catalogue.Cases() {
		t.Run(c.Spec.Name, func(t *testing.T) {
			out := scenario.Run(context.Background(), c.Spec, scenario.RunOptions{})
			if out.Status == scenario.Skip {
				if !strings.Contains(out.Message, "not supported") {
					t.Fatalf("skipped for another reason: %s", out.Message)
				}
				t.Skipf("this kernel lacks a feature (the VM runs it): %s", out.Message)
			}
			for _, co := range out.Checks {
				if co.Name == catalogue.CheckName {
					if co.Status != scenario.Pass {
						t.Fatalf("%s: %s\n%s", co.Status, co.Message, co.Evidence)
					}
					t.Logf("%s", co.Evidence)
				}
			}
			if out.Status != scenario.Pass {
				t.Fatalf("%s in %s: %s", out.Status, out.Step, out.Message)
			}
		})
	}
}

// TestWalkFindsNoBreakOnHealthyBuiltins runs the walk on every registered
// built-in scenario, for every pair of node and target its checks name
// where a ping passes: it must find no break.
func TestWalkFindsNoBreakOnHealthyBuiltins(t *testing.T) {
	hostcheck.RequireRoot(t)
	specs := scenario.Registered()
	if len(specs) == 0 {
		t.Fatal("no registered scenarios")
	}
	for _, spec := range specs {
		t.Run(spec.Name, func(t *testing.T) {
			n := scenario.New(t, spec)
			seen := map[string]bool{}
			walked := 0
			for _, c := range spec.Checks() {
				refs, ok := scenario.RefsOf(c.Func)
				if !ok || len(refs.Nodes) == 0 || len(refs.Targets) == 0 {
					continue
				}
				from, ok := n.Lookup(refs.Nodes[0])
				if !ok {
					continue
				}
				var dst netip.Addr
				if nd, ok := n.Lookup(refs.Targets[0]); ok {
					dst, _ = from.AddrFor(nd, false)
				} else if a, err := netip.ParseAddr(refs.Targets[0]); err == nil {
					dst = a
				}
				key := from.Name() + ">" + dst.String()
				if !dst.IsValid() || seen[key] {
					continue
				}
				seen[key] = true
				if _, err := assert.Ping(context.Background(), from, dst, assert.Timeout(300*time.Millisecond)); err != nil {
					continue // no traffic here on the healthy network (a NoReach)
				}
				walked++
				if w := assert.WalkPath(from, dst); w.Break != "" {
					t.Errorf("%s → %s passes traffic, but the walk breaks:\n%s", from.Name(), dst, w.Evidence())
				}
			}
			t.Logf("%d paths walked", walked)
		})
	}
}
