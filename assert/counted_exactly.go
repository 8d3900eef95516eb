package assert

import (
	"context"
	"fmt"

	"github.com/vtest-dev/vtest/scenario"
)

// exactCount is the evidence of CountedExactly.
type exactCount struct {
	inner         string
	node, rule    string
	before, after scenario.Counter
	want          uint64
}

func (c *exactCount) Evidence() string {
	s := fmt.Sprintf("rule %q on %s counted +%d packets (%s → %s); want exactly +%d", c.rule, c.node, c.after.Packets-c.before.Packets, c.before, c.after, c.want)
	if c.inner != "" {
		s = c.inner + "\n" + s
	}
	return s
}

// CountedExactly wraps a check: it passes only if the check passes and the
// counter of the firewall or NAT rule called rule on node rose by exactly
// n packets while the check ran — n = 0 for "this rule stays unchanged".
// It catches a rule that matches more than it should (it counted the
// check's packets and others, or each packet twice) as well as one that
// matches less, on any hook, output included. Keep other traffic away
// from the rule while the check runs: the counter counts every packet the
// rule matches, not only the check's.
func CountedExactly(node, rule string, n uint64, check scenario.CheckFunc) scenario.CheckFunc {
	return scenario.Declare(func(ctx context.Context, net *scenario.Network) scenario.Result {
		nd := net.Node(node)
		c := &exactCount{node: node, rule: rule, want: n}
		var err error
		if c.before, err = nd.RuleCounter(rule); err != nil {
			return scenario.Verdict("", err)
		}
		r := check(ctx, net)
		c.inner = r.Evidence
		if c.after, err = nd.RuleCounter(rule); err != nil {
			return scenario.Verdict(c.inner, err)
		}
		if r.Err != nil || r.Skip != "" {
			r.Evidence = c.Evidence()
			return r
		}
		if got := c.after.Packets - c.before.Packets; got != n {
			return scenario.Verdict(c.Evidence(), fmt.Errorf("rule %q on %s counted %d packets while the check ran, want exactly %d", rule, node, got, n))
		}
		return scenario.Verdict(c.Evidence(), nil)
	}, wraps(check, node))
}
