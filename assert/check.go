package assert

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// Check runs a scenario check as a testing helper and reports it exactly
// as vtest run reports it (through scenario.Judge):
//
//   - a pass logs the evidence;
//   - a failure fails the test with the run's message (and logs the
//     evidence when the message does not quote it), a panic included;
//   - a skip skips the test with the run's reason (t.Skipf), and so does
//     an inconclusive result (the machine, not the network, decided it:
//     too busy to time), unless VTEST_INCONCLUSIVE=fail, which fails it as
//     vtest run -inconclusive fail does. Where t cannot skip (testify's
//     CollectT), a skip fails the test: nothing was shown.
//
// Every scenario check of this package (and any of your own) is a test
// helper this way; require.Check stops the test on failure:
//
//	assert.Check(t, network, assert.Reach("client", "server"))
//
// A check naming a node or interface the network lacks, or given an option
// it does not read, fails with the reason before it runs, as Validate
// refuses it in a scenario. Check returns whether the check passed.
//
// The check's context ends shortly before the test's deadline (go test
// -timeout): a check that ignores it is abandoned a second later and fails
// the test with the stacks of its goroutines, as a run abandons it,
// instead of the whole test binary panicking at the deadline.
func Check(t TestingT, n *scenario.Network, c scenario.CheckFunc) bool {
	helper(t).Helper()
	if err := n.ValidateCheck(c); err != nil {
		t.Errorf("%v", err)
		return false
	}
	ctx, cancel := checkContext(t)
	defer cancel()
	return judged(t, scenario.Judge(ctx, n, c, inconclusiveFails()))
}

// checkContext is the test's context, ended before the test's deadline by
// a twentieth of the time left, at least twice the grace an abandoned
// check gets (so that the abandonment is reported in time).
func checkContext(t TestingT) (context.Context, context.CancelFunc) {
	ctx := nodeContext(t)
	dt, ok := t.(interface{ Deadline() (time.Time, bool) })
	if !ok {
		return ctx, func() {}
	}
	deadline, ok := dt.Deadline()
	if !ok {
		return ctx, func() {}
	}
	margin := max(time.Until(deadline)/20, 2*scenario.DefaultGrace)
	return context.WithDeadlineCause(ctx, deadline.Add(-margin), errTestDeadline)
}

// errTestDeadline is why a check's context ends in go test.
var errTestDeadline = errors.New("the test's deadline (go test -timeout) is near")

// inconclusiveFails is VTEST_INCONCLUSIVE=fail, the go test form of vtest
// run -inconclusive fail.
func inconclusiveFails() bool { return os.Getenv("VTEST_INCONCLUSIVE") == "fail" }

// report reports a direct check's outcome as Check reports a scenario
// check's.
func report(t TestingT, r Evidencer, err error) bool {
	helper(t).Helper()
	co := scenario.CheckOutcome{Evidence: evidence(r)}
	co.Status, co.Message = scenario.Verdict(co.Evidence, err).Classify(inconclusiveFails())
	return judged(t, co)
}

// judged turns a check's outcome, as a run reports it, into the test's.
func judged(t TestingT, co scenario.CheckOutcome) bool {
	helper(t).Helper()
	switch co.Status {
	case scenario.Pass:
		if co.Evidence != "" {
			logf(t, "%s", co.Evidence)
		}
		return true
	case scenario.Skip:
		if s, ok := t.(interface{ Skipf(string, ...any) }); ok {
			s.Skipf("%s", co.Message)
			return false // only a test double's Skipf returns
		}
		t.Errorf("skipped, and the test cannot skip: %s", co.Message)
		return false
	}
	t.Errorf("%s", co.Message)
	if co.Evidence != "" && !strings.Contains(co.Message, co.Evidence) {
		logf(t, "evidence: %s", co.Evidence)
	}
	return false
}
