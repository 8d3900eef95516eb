package misconfigured_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/internal/misconfigured"
	"github.com/vtest-dev/vtest/scenario"
)

// TestCasesFail runs every misconfigured scenario this kernel can build
// and checks it fails exactly at the check its mistake breaks, every other
// check passing. The others are skipped here with the probe's reason and
// run in the VM by make kernel-check.
func TestCasesFail(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, c := range misconfigured.Cases() {
		t.Run(c.Spec.Name, func(t *testing.T) {
			out := scenario.Run(context.Background(), c.Spec, scenario.RunOptions{})
			if out.Status == scenario.Skip {
				if !strings.Contains(out.Message, "not supported") {
					t.Fatalf("skipped for another reason: %s", out.Message)
				}
				t.Skipf("this kernel lacks a feature (the VM runs it): %s", out.Message)
			}
			if out.Status != scenario.Fail || out.Step != "check "+c.Fails {
				t.Fatalf("got %s in %s (%s), want a failure of %q", out.Status, out.Step, out.Message, c.Fails)
			}
			for _, co := range out.Checks {
				if co.Name != c.Fails && co.Status != scenario.Pass {
					t.Errorf("check %q: %s %s, want pass", co.Name, co.Status, co.Message)
				}
			}
		})
	}
}
