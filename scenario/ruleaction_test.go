package scenario_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestDisableAndEnableRule turns a firewall drop rule off and on again in
// steps: pings get through only while it is off, and its counter runs on
// throughout (it counts while disabled too).
func TestDisableAndEnableRule(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("rule-toggle", "a firewall rule turned off and on")
	s.Host("left")
	s.Host("right").Firewall(scenario.FirewallRule{Name: "no-ping", Hook: scenario.HookInput, Action: scenario.Drop,
		Match: scenario.Match{Proto: "icmp"}})
	s.Link("left", "right")
	quick := assert.Timeout(300 * time.Millisecond)
	var counts []uint64
	count := func(ctx context.Context, n *scenario.Network) scenario.Result {
		c, err := n.Node("right").RuleCounter("no-ping")
		counts = append(counts, c.Packets)
		return scenario.Verdict(c.String(), err)
	}
	s.Check("dropped", assert.NoReach("left", "right", quick))
	s.Check("counted", count)
	s.Step("disable", scenario.DisableRule("right", "no-ping"))
	s.Check("passes while disabled", assert.Reach("left", "right"))
	s.Check("still counted", count)
	s.Step("enable", scenario.EnableRule("right", "no-ping"))
	s.Check("dropped again", assert.NoReach("left", "right", quick))
	s.Check("counted on", count)
	out := scenario.Run(context.Background(), s, scenario.RunOptions{})
	if out.Status != scenario.Pass {
		t.Fatalf("%s: %s\n%s", out.Status, out.Message, statuses(out))
	}
	if len(counts) != 3 || !(counts[0] > 0 && counts[1] > counts[0] && counts[2] > counts[1]) {
		t.Errorf("counter did not run on: %v", counts)
	}

	bad := pair("rule-toggle-bad")
	bad.Step("disable", scenario.DisableRule("right", "nope"))
	if _, err := scenario.Build(context.Background(), bad); err == nil || !strings.Contains(err.Error(), `no NAT or firewall rule called "nope"`) {
		t.Errorf("unknown rule accepted: %v", err)
	}
}
