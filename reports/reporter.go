package reports

import (
	"errors"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// Reporter receives a run as it happens. The runner calls Start when a
// scenario run starts, Check as each of its checks returns, Done when the
// run is over (also for runs that never started), and Finish once at the
// end with the run's Summary. Calls never overlap.
//
// A run is streamed through its reporters: each writes or drops what a
// scenario run gave it by the time Done returns, so a run of any size holds
// only the scenarios in flight and the Summary, never every check's
// evidence.
//
// The console, JUnit, KTAP and JSON lines are Reporters; a new format is
// one more.
type Reporter interface {
	Start(scenario string)
	Check(scenario string, c scenario.CheckOutcome)
	Done(o scenario.Outcome)
	Finish(s Summary) error
}

// Multi is a Reporter that passes every call to each of its reporters in
// order.
type Multi []Reporter

// Start implements Reporter.
func (m Multi) Start(name string) {
	for _, r := range m {
		r.Start(name)
	}
}

// Check implements Reporter.
func (m Multi) Check(name string, c scenario.CheckOutcome) {
	for _, r := range m {
		r.Check(name, c)
	}
}

// Done implements Reporter.
func (m Multi) Done(o scenario.Outcome) {
	for _, r := range m {
		r.Done(o)
	}
}

// Finish implements Reporter; it finishes every reporter and returns their
// errors joined.
func (m Multi) Finish(s Summary) error {
	var errs []error
	for _, r := range m {
		errs = append(errs, r.Finish(s))
	}
	return errors.Join(errs...)
}

// Summary is what the end of a run reports: how many scenario runs ended
// in each status, which failed and why in a line, and how long the run
// took. It stays small however many scenarios and checks the run has: it
// holds no check's evidence.
type Summary struct {
	// Counts is the number of scenario runs per status; a status no run
	// ended in is absent.
	Counts map[scenario.Status]int
	// Crashed is how many of the failed runs were running when the suite
	// process died (Step StepCrash); KTAP counts them as errors.
	Crashed int
	// Failed are the runs that failed or were interrupted, in the order
	// they finished: the first MaxFailed of them.
	Failed []Failure
	// Omitted is how many more runs failed or were interrupted than
	// Failed lists (their statuses are in Counts).
	Omitted int `json:",omitempty"`
	// Duration is how long the run took.
	Duration time.Duration

	runs map[string]int // runs counted, by scenario
}

// Failure is a scenario run that failed or was interrupted, as a summary
// lists it: its name, how it ended and the first line of why, and its
// failed checks — no evidence, and a bounded size.
type Failure struct {
	Scenario string
	// Run is which run of the scenario it was: 1 for the first, more
	// with -count.
	Run    int
	Status scenario.Status
	Step   string
	// Message is the first line of the outcome's message.
	Message string
	// Failed is the number of failed checks and steps; Checks are the
	// first ten of them, each "name: first line of its message".
	Failed int      `json:",omitempty"`
	Checks []string `json:",omitempty"`
}

// failureChecks bounds the failed checks a Failure names.
const failureChecks = 10

// MaxFailed bounds the failed runs a Summary lists, so that it stays small
// however many runs fail (a 100k-check run of failing scenarios holds 100
// Failures, not one per scenario); Summary.Omitted counts the rest.
const MaxFailed = 100

// Add counts one finished scenario run.
func (s *Summary) Add(o scenario.Outcome) {
	if s.Counts == nil {
		s.Counts = map[scenario.Status]int{}
	}
	if s.runs == nil {
		s.runs = map[string]int{}
	}
	s.Counts[o.Status]++
	s.runs[o.Scenario]++
	if o.Status == scenario.Pass || o.Status == scenario.Skip {
		return
	}
	if o.Step == StepCrash {
		s.Crashed++
	}
	if len(s.Failed) >= MaxFailed {
		s.Omitted++
		return
	}
	f := Failure{Scenario: o.Scenario, Run: s.runs[o.Scenario], Status: o.Status, Step: o.Step, Message: firstLine(o.Message)}
	for _, c := range o.Checks {
		if c.Status != scenario.Fail {
			continue
		}
		if f.Failed++; f.Failed <= failureChecks {
			f.Checks = append(f.Checks, firstLine(c.Name+": "+c.Message))
		}
	}
	s.Failed = append(s.Failed, f)
}

// Runs is the number of scenario runs counted.
func (s Summary) Runs() int {
	n := 0
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// Summarize returns the Summary of a run of these outcomes that took d.
func Summarize(outcomes []scenario.Outcome, d time.Duration) Summary {
	s := Summary{Duration: d}
	for _, o := range outcomes {
		s.Add(o)
	}
	return s
}

// Planned is what reports know of a scenario before it runs: enough to list
// the checks of a skipped scenario and where they were declared.
type Planned struct {
	Name        string
	Description string         `json:",omitempty"`
	Checks      []PlannedCheck `json:",omitempty"`
}

// PlannedCheck is one declared check.
type PlannedCheck struct {
	Name string
	File string `json:",omitempty"`
	Line int    `json:",omitempty"`
}

// Plan describes specs for reports.
func Plan(specs []*scenario.Spec) []Planned {
	var out []Planned
	for _, s := range specs {
		p := Planned{Name: s.Name, Description: s.Description}
		for _, c := range s.Checks() {
			p.Checks = append(p.Checks, PlannedCheck{Name: c.Name, File: c.File, Line: c.Line})
		}
		out = append(out, p)
	}
	return out
}

// byName indexes plans by scenario name.
func byName(plans []Planned) map[string]Planned {
	m := map[string]Planned{}
	for _, p := range plans {
		m[p.Name] = p
	}
	return m
}

// StepCrash is the Step of a scenario that was running when the suite
// process died (see vtest run's crash reports).
const StepCrash = "crash"

// kind classifies how a scenario that did not pass ended: "timeout",
// "crash", "interrupted", "invalid", "teardown", "setup" or "fail".
func kind(o scenario.Outcome) string {
	switch {
	case o.Status == scenario.Pass || o.Status == scenario.Skip:
		return ""
	case o.Step == StepCrash:
		return "crash"
	case o.Status == scenario.Interrupted:
		return "interrupted"
	case len(o.Message) >= 9 && o.Message[:9] == "timed out":
		return "timeout"
	case o.Step == "validate":
		return "invalid"
	case o.Step == "teardown":
		return "teardown"
	case len(o.Checks) == 0:
		return "setup"
	}
	return "fail"
}

// runNumbers returns, for each outcome, which run of its scenario it is
// (1 for the first), so repeated runs (-count) get distinct names.
func runNumbers(outcomes []scenario.Outcome) []int {
	seen := map[string]int{}
	out := make([]int, len(outcomes))
	for i, o := range outcomes {
		seen[o.Scenario]++
		out[i] = seen[o.Scenario]
	}
	return out
}

// Elapsed is the time since the run started.
func (m Meta) Elapsed() time.Duration {
	if m.Start.IsZero() {
		return 0
	}
	return time.Since(m.Start)
}
