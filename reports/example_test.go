package reports_test

import (
	"os"
	"time"

	"github.com/vtest-dev/vtest/reports"
	"github.com/vtest-dev/vtest/scenario"
)

// A KTAP stream: the plan first, each scenario run's test as it finishes,
// the totals from the run's Summary.
func ExampleNewKTAP() {
	outcomes := []scenario.Outcome{
		{Scenario: "routed", Status: scenario.Pass, Checks: []scenario.CheckOutcome{
			{Name: "client reaches server", Status: scenario.Pass},
			{Name: "through the router", Status: scenario.Pass},
		}},
		{Scenario: "vlan", Status: scenario.Skip, Step: "probe", Message: "vlan: not supported by this kernel"},
	}
	k := reports.NewKTAP(os.Stdout, len(outcomes))
	var sum reports.Summary
	for _, o := range outcomes {
		k.Done(o)
		sum.Add(o)
	}
	sum.Duration = time.Second
	k.Finish(sum)
	// Output:
	// KTAP version 1
	// 1..2
	//   KTAP version 1
	//   # Subtest: routed
	//   1..2
	//   ok 1 client reaches server
	//   ok 2 through the router
	// ok 1 routed
	// ok 2 vlan # SKIP vlan: not supported by this kernel
	// # Totals: pass:1 fail:0 xfail:0 xpass:0 skip:1 error:0
}
