package reports

import (
	"encoding/json"
	"io"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// Event is one line of the JSON event stream.
type Event struct {
	Time     time.Time `json:"time"`
	Action   string    `json:"action"` // "start", "step", "check", "done", "summary"
	Scenario string    `json:"scenario,omitempty"`
	Check    string    `json:"check,omitempty"`
	Status   string    `json:"status,omitempty"`
	Step     string    `json:"step,omitempty"`
	Message  string    `json:"message,omitempty"`
	Evidence string    `json:"evidence,omitempty"`
	Seconds  float64   `json:"seconds,omitempty"`
	Counts   any       `json:"counts,omitempty"`
}

// WriteJSON writes events, one JSON object per line, each in one write.
func WriteJSON(w io.Writer, evs ...Event) error {
	for _, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// JSONLines is a Reporter writing JSON events to W as they happen: "start"
// when a scenario starts, "step" or "check" as each step or check returns
// (so tail -f shows progress), "done" when it finished, and a "summary" at
// the end. Each event is written when it happens and nothing is kept.
type JSONLines struct {
	W io.Writer
	// Now, when set, replaces time.Now (tests).
	Now func() time.Time
}

func (j JSONLines) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

// Start implements Reporter.
func (j JSONLines) Start(name string) {
	WriteJSON(j.W, Event{Time: j.now(), Action: "start", Scenario: name})
}

// Check implements Reporter.
func (j JSONLines) Check(name string, c scenario.CheckOutcome) {
	action := "check"
	if c.IsStep() {
		action = "step"
	}
	WriteJSON(j.W, Event{Time: j.now(), Action: action, Scenario: name, Check: c.Name, Status: string(c.Status),
		Message: c.Message, Evidence: c.Evidence, Seconds: c.Duration.Seconds()})
}

// Done implements Reporter.
func (j JSONLines) Done(o scenario.Outcome) {
	WriteJSON(j.W, Event{Time: j.now(), Action: "done", Scenario: o.Scenario, Status: string(o.Status), Step: o.Step,
		Message: o.Message, Seconds: o.Duration.Seconds()})
}

// Finish implements Reporter: the "summary" event with the counts per
// status.
func (j JSONLines) Finish(s Summary) error {
	counts := s.Counts
	if counts == nil {
		counts = map[scenario.Status]int{}
	}
	return WriteJSON(j.W, Event{Time: j.now(), Action: "summary", Counts: counts, Seconds: s.Duration.Seconds()})
}
