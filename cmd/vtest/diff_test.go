package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/reports"
	"github.com/vtest-dev/vtest/scenario"
)

// TestDiffCommand: vtest diff exits 1 on a regression only, not on a
// flake, and prints Markdown with -markdown.
func TestDiffCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, runs ...scenario.Status) string {
		var outs []scenario.Outcome
		for _, st := range runs {
			outs = append(outs, scenario.Outcome{Scenario: "nat", Status: st, Checks: []scenario.CheckOutcome{{Name: "reach", Status: st}}})
		}
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := reports.WriteJUnit(f, outs, nil, reports.Meta{Start: time.Now()}, reports.JUnitOptions{}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := write("old.xml", scenario.Pass, scenario.Pass)
	flaky := write("flaky.xml", scenario.Pass, scenario.Fail)
	broken := write("broken.xml", scenario.Fail, scenario.Fail)
	vtest(t, ".", "diff", old, flaky).must(t, 0, "FLAKY       nat / reach: PASS (2/2 passed) → FLAKY (1/2 passed)", "0 regression(s), 1 flaky")
	vtest(t, ".", "diff", old, broken).must(t, 1, "REGRESSION  nat / reach")
	vtest(t, ".", "diff", "-markdown", old, broken).must(t, 1, "| change | scenario | check | old | new |", "| **REGRESSION** | nat | reach | PASS (2/2 passed) | FAIL (0/2 passed) |")
	vtest(t, ".", "diff", "-markdown", old).must(t, 2, "usage: vtest diff [-markdown] OLD.xml NEW.xml")
}
