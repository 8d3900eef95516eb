// Package failing holds scenarios that fail on purpose, for vtest's own
// CLI tests.
package failing

import (
	"context"
	"errors"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

func init() {
	inc := scenario.Define("inconclusive", "a timing check the machine was too busy to decide")
	inc.Host("a")
	inc.Check("measures", func(ctx context.Context, n *scenario.Network) scenario.Result {
		return scenario.Verdict("baseline p90 9ms", &scenario.InconclusiveError{Reason: "machine too busy (baseline p90 9ms)"})
	})
	scenario.Register(inc)

	s := scenario.Define("fails", "a check that fails with evidence")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b")
	s.Check("a reaches b", assert.Reach("a", "b"))
	s.Check("a does not reach b", assert.NoReach("a", "b"))
	scenario.Register(s)

	slow := scenario.Define("slow", "a check that waits until cancelled")
	slow.Host("a")
	slow.Host("b")
	slow.Link("a", "b")
	slow.Check("ready", func(ctx context.Context, n *scenario.Network) scenario.Result {
		return scenario.Verdict("built", nil)
	})
	slow.Check("waits", func(ctx context.Context, n *scenario.Network) scenario.Result {
		// Start a daemon, then wait: it must die with the run.
		c := n.Node("a").Command("sleep", "1000")
		if err := c.Start(); err != nil {
			return scenario.Verdict("", err)
		}
		<-ctx.Done()
		return scenario.Verdict("", errors.New("cancelled"))
	})
	scenario.Register(slow)

	broken := scenario.Define("broken-step", "a step that fails: the check after it is not run")
	broken.Host("a")
	broken.Host("b")
	broken.Link("a", "b")
	broken.Check("a reaches b", assert.Reach("a", "b"))
	broken.StepFunc("cannot be done", func(ctx context.Context, n *scenario.Network) error {
		return errors.New("the step is broken on purpose")
	})
	broken.Check("after the step", assert.Reach("a", "b"))
	scenario.Register(broken)
}
