package reports

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// record is one line of a Recorder's stream.
type record struct {
	Kind     string                 `json:"kind"` // plan, start, check, done, end
	Time     time.Time              `json:"time"`
	Plan     []Planned              `json:"plan,omitempty"`
	Runs     []string               `json:"runs,omitempty"` // plan: the scenario of each run, in order
	Meta     *Meta                  `json:"meta,omitempty"`
	Scenario string                 `json:"scenario,omitempty"`
	Check    *scenario.CheckOutcome `json:"check,omitempty"`
	Outcome  *scenario.Outcome      `json:"outcome,omitempty"`
}

// Recorder is a Reporter writing a complete, machine-readable account of a
// run as it happens: the plan, each start, each check as it returns, each
// scenario's whole outcome, and an end record. Every record is one write,
// so whatever the writing process dies of, the stream holds every record
// written before. vtest run gives the suite process one (-events) and, if
// the process dies before the end record, rebuilds the reports from it
// (ReadRecording).
type Recorder struct{ w io.Writer }

// NewRecorder writes the plan: the scenarios (plans) and the scenario of
// each run in the order they will run.
func NewRecorder(w io.Writer, plans []Planned, runs []string, m Meta) (*Recorder, error) {
	r := &Recorder{w: w}
	return r, r.write(record{Kind: "plan", Plan: plans, Runs: runs, Meta: &m})
}

func (r *Recorder) write(rec record) error {
	rec.Time = time.Now()
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = r.w.Write(append(b, '\n'))
	return err
}

// Start implements Reporter.
func (r *Recorder) Start(name string) { r.write(record{Kind: "start", Scenario: name}) }

// Check implements Reporter.
func (r *Recorder) Check(name string, c scenario.CheckOutcome) {
	r.write(record{Kind: "check", Scenario: name, Check: &c})
}

// Done implements Reporter.
func (r *Recorder) Done(o scenario.Outcome) { r.write(record{Kind: "done", Outcome: &o}) }

// Finish implements Reporter: it writes the end record. Put the Recorder
// last, so the end record follows every other report.
func (r *Recorder) Finish(Summary) error {
	return r.write(record{Kind: "end"})
}

// Recording is a run read back from a Recorder's stream.
type Recording struct {
	Plans []Planned
	Runs  []string // the scenario of each planned run, in order
	Meta  Meta
	// Done are the finished runs, in the order they finished (unless
	// ReadRecordingFunc passed them on instead).
	Done []scenario.Outcome
	// Finished are the scenarios of the finished runs, in the order they
	// finished.
	Finished []string
	// Running are the runs started and not finished, in the order they
	// started, with the checks that returned.
	Running []scenario.Outcome
	// Ended says the run finished (every report was written).
	Ended bool

	started []time.Time // when each of Running started
}

// Planned reports whether the stream holds a plan, i.e. a run began.
func (r *Recording) Planned() bool { return r.Plans != nil || r.Runs != nil }

// ReadRecording reads a Recorder's stream. A last line cut short (the
// process died while writing it) is ignored.
func ReadRecording(rd io.Reader) (*Recording, error) {
	return ReadRecordingFunc(rd, nil)
}

// ReadRecordingFunc reads a Recorder's stream like ReadRecording, but when
// done is set it passes each finished run to done as it is read instead of
// keeping it in Done, so that a recording of any size is read holding only
// the runs that were in flight.
func ReadRecordingFunc(rd io.Reader, done func(scenario.Outcome)) (*Recording, error) {
	rec := &Recording{}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			continue // a record cut short by the crash
		}
		switch r.Kind {
		case "plan":
			rec.Plans, rec.Runs = r.Plan, r.Runs
			if rec.Runs == nil {
				rec.Runs = []string{}
			}
			if r.Meta != nil {
				rec.Meta = *r.Meta
			}
		case "start":
			rec.Running = append(rec.Running, scenario.Outcome{Scenario: r.Scenario})
			rec.started = append(rec.started, r.Time)
		case "check":
			if i := rec.running(r.Scenario); i >= 0 && r.Check != nil {
				rec.Running[i].Checks = append(rec.Running[i].Checks, *r.Check)
			}
		case "done":
			if r.Outcome == nil {
				return nil, fmt.Errorf("line %d: done record without an outcome", n)
			}
			if i := rec.running(r.Outcome.Scenario); i >= 0 {
				rec.Running = append(rec.Running[:i], rec.Running[i+1:]...)
				rec.started = append(rec.started[:i], rec.started[i+1:]...)
			}
			rec.Finished = append(rec.Finished, r.Outcome.Scenario)
			if done != nil {
				done(*r.Outcome)
			} else {
				rec.Done = append(rec.Done, *r.Outcome)
			}
		case "end":
			rec.Ended = true
		}
	}
	return rec, sc.Err()
}

// running finds the earliest running run of a scenario. (With -count, two
// runs of one scenario may run at once; their checks cannot be told apart
// in the stream and go to the earlier one.)
func (r *Recording) running(name string) int {
	for i, o := range r.Running {
		if o.Scenario == name {
			return i
		}
	}
	return -1
}

// Crashed returns the outcomes of a run whose process died: the finished
// runs as they were (Done), the running ones failed with step StepCrash and the
// crash output as their message (keeping the checks that returned), and
// the runs never started interrupted.
func (r *Recording) Crashed(crash string) (finished, running, notStarted []scenario.Outcome) {
	left := map[string]int{}
	for _, name := range r.Runs {
		left[name]++
	}
	for _, name := range r.Finished {
		left[name]--
	}
	for i, o := range r.Running {
		left[o.Scenario]--
		if t := r.started[i]; !t.IsZero() {
			o.Duration = time.Since(t)
		}
		o.Status, o.Step = scenario.Fail, StepCrash
		o.Message = "the suite process died while this scenario ran:\n" + crash
		running = append(running, o)
	}
	for _, name := range r.Runs {
		if left[name] > 0 {
			left[name]--
			notStarted = append(notStarted, scenario.Outcome{Scenario: name, Status: scenario.Interrupted, Step: "not started",
				Message: "not started: the suite process died before it ran this scenario"})
		}
	}
	return r.Done, running, notStarted
}
