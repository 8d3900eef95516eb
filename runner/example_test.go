package runner_test

import (
	"context"
	"fmt"
	"os"

	"github.com/vtest-dev/vtest/runner"
	"github.com/vtest-dev/vtest/scenario"
)

// Run returns counts and the failed runs, not every outcome: a run of any
// size holds only the scenarios in flight. OnDone sees each outcome as its
// scenario finishes; keep them there when the run is small.
func ExampleRun() {
	var outcomes []scenario.Outcome
	res := runner.Run(context.Background(), scenario.Registered(), runner.Options{
		Parallel: 4,
		OnDone:   func(o scenario.Outcome) { outcomes = append(outcomes, o) }, // calls never overlap
	})
	fmt.Printf("%d passed of %d\n", res.Counts()[scenario.Pass], res.Summary.Runs())
	for _, f := range res.Summary.Failed {
		fmt.Printf("%s %s: %s\n", f.Status, f.Scenario, f.Message)
	}
	os.Exit(res.ExitCode())
}
