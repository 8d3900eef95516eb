package assert_test

import (
	"testing"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestCountedExactly: a rule on left's output hook counting the ICMP it
// sends to right counts exactly the 3 echo requests of a 3-probe Reach; a
// rule that also counts what it should not (every ICMP left sends and
// receives, on output and input: the replies too) fails exactly-3, and so
// do a wrong count and a check that sends more than it counts (a warm-up
// probe). A UDP rule stays unchanged (0) while ICMP flows, and
// the ICMP rule fails "unchanged".
func TestCountedExactly(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("counted-exactly", "")
	s.Host("right")
	s.Link("left", "right").Subnet("10.0.0.0/24")
	s.Host("left").
		Firewall(scenario.FirewallRule{Name: "icmp-out", Hook: scenario.HookOutput, Match: scenario.Match{Proto: "icmp", Dst: "10.0.0.2"}, Action: scenario.Accept}).
		Firewall(scenario.FirewallRule{Name: "udp-out", Hook: scenario.HookOutput, Match: scenario.Match{Proto: "udp"}, Action: scenario.Accept}).
		Firewall(scenario.FirewallRule{Name: "icmp-in", Hook: scenario.HookInput, Match: scenario.Match{Proto: "icmp"}, Action: scenario.Accept})
	n := scenario.New(t, s)
	reach := assert.Reach("left", "right", assert.Count(3))
	if r := assert.CountedExactly("left", "icmp-out", 3, reach)(ctx, n); r.Err != nil {
		t.Errorf("3 echo requests on output: %v", r.Err)
	} else if !contains(r.Evidence, `rule "icmp-out" on left counted +3 packets`, "want exactly +3") {
		t.Errorf("evidence: %s", r.Evidence)
	}
	r := assert.CountedExactly("left", "icmp-out", 2, reach)(ctx, n)
	if r.Err == nil || !contains(r.Err.Error(), "counted 3 packets while the check ran, want exactly 2") {
		t.Errorf("an extra packet passed: %v %s", r.Err, r.Evidence)
	}
	r = assert.CountedExactly("left", "icmp-out", 3, assert.Reach("left", "right", assert.Count(3), assert.Warmup(1)))(ctx, n)
	if r.Err == nil || !contains(r.Err.Error(), "counted 4 packets while the check ran, want exactly 3") {
		t.Errorf("a warm-up probe passed: %v %s", r.Err, r.Evidence)
	}
	if r := assert.CountedExactly("left", "udp-out", 0, reach)(ctx, n); r.Err != nil {
		t.Errorf("UDP rule unchanged: %v", r.Err)
	}
	r = assert.CountedExactly("left", "icmp-out", 0, reach)(ctx, n)
	if r.Err == nil || !contains(r.Err.Error(), "counted 3 packets", "want exactly 0") {
		t.Errorf("a counting rule passed unchanged: %v %s", r.Err, r.Evidence)
	}
	// The input rule counts the 3 replies; it does not count the requests.
	if r := assert.CountedExactly("left", "icmp-in", 3, reach)(ctx, n); r.Err != nil {
		t.Errorf("3 replies on input: %v", r.Err)
	}
	// A failing check fails whatever the counter did.
	r = assert.CountedExactly("left", "icmp-out", 1, assert.Reach("left", "10.0.0.9", assert.Timeout(200e6)))(ctx, n)
	if r.Err == nil {
		t.Errorf("a failing check passed: %s", r.Evidence)
	}
	if err := n.ValidateCheck(assert.CountedExactly("nobody", "icmp-out", 1, reach)); err == nil || !contains(err.Error(), `"nobody"`) {
		t.Errorf("unknown node: %v", err)
	}
}
