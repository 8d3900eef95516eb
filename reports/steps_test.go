package reports

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// stepped is a scenario whose second step failed: a check passed before
// it, a check after it was not run.
func stepped() scenario.Outcome {
	return scenario.Outcome{Scenario: "flap", Status: scenario.Fail, Step: "step link down", Message: `step "link down" failed: no such link`,
		Checks: []scenario.CheckOutcome{
			{Name: "start daemon", Kind: scenario.ItemStep, Status: scenario.Pass, Evidence: "start d on a (took 1ms)"},
			{Name: "reach", Kind: scenario.ItemCheck, Status: scenario.Pass, Evidence: "ping ok"},
			{Name: "link down", Kind: scenario.ItemStep, Status: scenario.Fail, Message: "no such link", Evidence: "set a:eth9 down", Duration: time.Millisecond},
			{Name: "lost", Kind: scenario.ItemCheck, Status: scenario.Skip, Message: `not run: step "link down" failed`},
		}}
}

func TestStepsInReports(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, []scenario.Outcome{stepped()}, nil, Meta{Start: time.Now()}, JUnitOptions{}); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Suites[0]
	var names []string
	for _, c := range s.Cases {
		names = append(names, c.Name+"="+c.status())
	}
	// Steps are not counted as tests; the failed one is an error case.
	if got := strings.Join(names, " "); got != "reach=pass step: link down=error lost=skip" {
		t.Errorf("JUnit cases: %s", got)
	}
	if s.Tests != 3 || s.Errors != 1 || s.Skipped != 1 || !strings.Contains(s.SystemOut, "[STEP PASS] start daemon: start d on a") {
		t.Errorf("suite %+v", s)
	}

	b.Reset()
	if err := WriteKTAP(&b, []scenario.Outcome{stepped()}); err != nil {
		t.Fatal(err)
	}
	k := b.String()
	for _, want := range []string{"  1..2\n", "  # step start daemon: PASS\n", "  ok 1 reach\n", "  # step link down: FAIL\n", "  ok 2 lost # SKIP not run: step \"link down\" failed\n", "not ok 1 flap\n"} {
		if !strings.Contains(k, want) {
			t.Errorf("KTAP lacks %q:\n%s", want, k)
		}
	}

	b.Reset()
	j := JSONLines{W: &b}
	for _, c := range stepped().Checks {
		j.Check("flap", c)
	}
	j.Done(stepped())
	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, " "); got != "step check step check done" {
		t.Errorf("JSON actions: %s", got)
	}
}
