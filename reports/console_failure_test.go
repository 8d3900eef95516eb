package reports

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// TestConsolePrintsEachFailureOnce: a failed check whose message embeds a
// copy of its evidence (written before the check stopped its clock) is
// printed once, in the order message, evidence, walk, with the timing of
// the evidence.
func TestConsolePrintsEachFailureOnce(t *testing.T) {
	walk := "path walk h1 → 10.0.0.2:\n  forward:\n    1. h1, route dev eth0  ✗ h1: eth0 is down\n  first break: forward path: h1: eth0 is down"
	ev := "ping 10.0.0.2 from h1: 1 sent, 0 received, 100% loss; route: dev eth0; took 1000.412ms\n" + walk
	stale := "ping 10.0.0.2 from h1: 1 sent, 0 received, 100% loss; route: dev eth0; took 0.000ms\n" + walk
	var b bytes.Buffer
	(&Console{W: &b}).Done(scenario.Outcome{Scenario: "s", Status: scenario.Fail, Duration: time.Second,
		Message: "10.0.0.2 is not reachable from h1: " + stale,
		Checks: []scenario.CheckOutcome{{Name: "h1 reaches h2", Status: scenario.Fail, Duration: time.Second,
			Message: "10.0.0.2 is not reachable from h1: " + stale, Evidence: ev}}})
	out := b.String()
	if n := strings.Count(out, "first break"); n != 1 {
		t.Errorf("the walk is printed %d times, want once:\n%s", n, out)
	}
	if strings.Contains(out, "took 0.000ms") || !strings.Contains(out, "took 1000.412ms") {
		t.Errorf("timing figures disagree:\n%s", out)
	}
	msg, evAt, walkAt := strings.Index(out, "is not reachable"), strings.Index(out, "ping 10.0.0.2"), strings.Index(out, "path walk")
	if msg < 0 || !(msg < evAt && evAt < walkAt) {
		t.Errorf("want message, then evidence, then walk:\n%s", out)
	}
	t.Logf("\n%s", out)
}

// TestWithoutEvidenceKeepsQuotedEvidence: only the copy of the evidence a
// message ends with is dropped; evidence quoted inside the message (an
// inconclusive reason, "(inconclusive counts as failure in this run)")
// stays whole.
func TestWithoutEvidenceKeepsQuotedEvidence(t *testing.T) {
	for _, c := range []struct{ msg, ev, want string }{
		{"machine too busy (baseline p90 9ms) (inconclusive counts as failure in this run)", "baseline p90 9ms",
			"machine too busy (baseline p90 9ms) (inconclusive counts as failure in this run)"},
		{"10.0.0.2 is not reachable from h1: ping 10.0.0.2 took 0.000ms: 0/3 replies", "ping 10.0.0.2 took 1000.1ms: 0/3 replies",
			"10.0.0.2 is not reachable from h1"},
		{"h1 reaches h2:\nping 10.0.0.2: 3/3 replies", "ping 10.0.0.2: 3/3 replies", "h1 reaches h2"},
	} {
		if got := withoutEvidence(c.msg, c.ev); got != c.want {
			t.Errorf("withoutEvidence(%q, %q) = %q, want %q", c.msg, c.ev, got, c.want)
		}
	}
}
