package twins_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/internal/twins"
	"github.com/vtest-dev/vtest/scenario"
)

// TestTwins runs every twin this kernel can build: the check passes on the
// healthy network and fails on the broken one, every other item passing.
// A network needing a feature this kernel lacks is skipped with the
// probe's reason; make kernel-check runs it in the VMs.
func TestTwins(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, tw := range twins.Twins() {
		t.Run(tw.Healthy.Name, func(t *testing.T) {
			t.Run("healthy", func(t *testing.T) { run(t, tw.Healthy, "") })
			t.Run("broken", func(t *testing.T) { run(t, tw.Broken, twins.CheckName) })
		})
	}
}

// TestTwinsAreTwins: both networks of a twin carry the same check, under
// the same name, and every twin names its check and break.
func TestTwinsAreTwins(t *testing.T) {
	seen := map[string]bool{}
	for _, tw := range twins.Twins() {
		if tw.Check == "" || tw.Break == "" || seen[tw.Healthy.Name] {
			t.Errorf("%s: check %q, break %q (or a duplicate name)", tw.Healthy.Name, tw.Check, tw.Break)
		}
		seen[tw.Healthy.Name] = true
		if tw.Broken.Name != tw.Healthy.Name+"-broken" {
			t.Errorf("broken twin of %s is called %s", tw.Healthy.Name, tw.Broken.Name)
		}
		for _, s := range []*scenario.Spec{tw.Healthy, tw.Broken} {
			if err := s.Validate(); err != nil {
				t.Errorf("%s: %v", s.Name, err)
			}
			n := 0
			for _, c := range s.Checks() {
				if c.Name == twins.CheckName {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s has %d items called %q, want 1", s.Name, n, twins.CheckName)
			}
		}
	}
}

// run runs s; fails names the item that must fail ("" for none).
func run(t *testing.T, s *scenario.Spec, fails string) {
	t.Helper()
	out := scenario.Run(context.Background(), s, scenario.RunOptions{})
	if out.Status == scenario.Skip {
		if !strings.Contains(out.Message, "not supported") && !strings.Contains(out.Message, "not available") {
			t.Fatalf("skipped for another reason: %s", out.Message)
		}
		t.Skipf("this kernel lacks a feature (the VM runs it): %s", out.Message)
	}
	for _, co := range out.Checks {
		want := scenario.Pass
		if co.Name == fails {
			want = scenario.Fail
		}
		if co.Status != want {
			t.Errorf("%s: %q %s (%s), want %s", s.Name, co.Name, co.Status, co.Message, want)
		} else {
			t.Logf("%s: %q %s: %s", s.Name, co.Name, co.Status, co.Message)
		}
	}
	if len(out.Checks) == 0 {
		t.Errorf("%s: no check ran: %s %s", s.Name, out.Status, out.Message)
	}
}
