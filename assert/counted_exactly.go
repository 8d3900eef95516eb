package assert

import "github.com/vtest-dev/vtest/scenario"

// CountedExactly wraps a check: it passes only if the check passes and the
// counter of the firewall or NAT rule called rule on node rose by exactly
// n packets while the check ran — n = 0 for "this rule stays unchanged".
// It catches a rule that matches more than it should (it counted the
// check's packets and others, or each packet twice) as well as one that
// matches less, on any hook, output included. Keep other traffic away
// from the rule while the check runs: the counter counts every packet the
// rule matches, not only the check's.
func CountedExactly(node, rule string, n uint64, check scenario.CheckFunc) scenario.CheckFunc {
	return countedDuring(counted{node: node, rule: rule, want: n, exact: true}, check)
}
