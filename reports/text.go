package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// ktapName makes a test name safe for KTAP: no '#' (it starts a directive)
// and no line breaks.
func ktapName(s string) string {
	s = strings.ReplaceAll(token(s), "#", "")
	return strings.TrimSpace(s)
}

// WriteKTAP writes the run in KTAP version 1 (the kernel's format,
// Documentation/dev-tools/ktap.rst): one test per scenario run, with its
// checks as a nested subtest list. The top-level lines are valid TAP 13 for
// TAP consumers such as prove; subtests are indented comments to them.
func WriteKTAP(w io.Writer, outcomes []scenario.Outcome) error {
	var b strings.Builder
	b.WriteString("KTAP version 1\n")
	fmt.Fprintf(&b, "1..%d\n", len(outcomes))
	for i, o := range outcomes {
		if len(o.Checks) > 0 {
			// Checks are the numbered subtests; steps are diagnostic
			// lines between them ("# step NAME: PASS").
			checks := 0
			for _, c := range o.Checks {
				if !c.IsStep() {
					checks++
				}
			}
			b.WriteString("    KTAP version 1\n")
			fmt.Fprintf(&b, "    1..%d\n", checks)
			j := 0
			for _, c := range o.Checks {
				if c.Status == scenario.Fail {
					for _, l := range strings.Split(Clean(c.Message), "\n") {
						fmt.Fprintf(&b, "    # %s\n", l)
					}
				}
				if c.IsStep() {
					fmt.Fprintf(&b, "    # step %s: %s\n", ktapName(c.Name), c.Status)
					continue
				}
				j++
				fmt.Fprintf(&b, "    %s\n", ktapLine(c.Status, j, c.Name, c.Message))
			}
		}
		if o.Status == scenario.Fail || o.Status == scenario.Interrupted {
			for _, l := range strings.Split(Clean(o.Message), "\n") {
				fmt.Fprintf(&b, "# %s\n", l)
			}
		}
		b.WriteString(ktapLine(o.Status, i+1, o.Scenario, o.Message) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ktapLine(st scenario.Status, n int, name, msg string) string {
	switch st {
	case scenario.Pass:
		return fmt.Sprintf("ok %d %s", n, ktapName(name))
	case scenario.Skip:
		return fmt.Sprintf("ok %d %s # SKIP %s", n, ktapName(name), strings.ReplaceAll(firstLine(msg), "#", ""))
	case scenario.Interrupted:
		return fmt.Sprintf("not ok %d %s # interrupted", n, ktapName(name))
	}
	return fmt.Sprintf("not ok %d %s", n, ktapName(name))
}

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

// JSONEvents returns the events of one finished scenario: one per step
// (action "step") and check (action "check"), in order, then one for the
// scenario.
func JSONEvents(o scenario.Outcome) []Event {
	now := time.Now()
	var evs []Event
	for _, c := range o.Checks {
		action := "check"
		if c.IsStep() {
			action = "step"
		}
		evs = append(evs, Event{Time: now, Action: action, Scenario: o.Scenario, Check: c.Name, Status: string(c.Status),
			Message: c.Message, Evidence: c.Evidence, Seconds: c.Duration.Seconds()})
	}
	return append(evs, Event{Time: now, Action: "done", Scenario: o.Scenario, Status: string(o.Status), Step: o.Step,
		Message: o.Message, Seconds: o.Duration.Seconds()})
}

// WriteJSON writes events, one JSON object per line.
func WriteJSON(w io.Writer, evs ...Event) error {
	enc := json.NewEncoder(w)
	for _, e := range evs {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}

// Console prints one line per finished scenario, with the evidence of
// failures, and a summary. With Live (stdout is a terminal) it also keeps a
// progress line at the bottom, rewritten in place.
type Console struct {
	W       io.Writer
	Color   bool
	Verbose bool // also print the evidence of passed checks
	Live    bool
	Total   int // scenarios to run, for the progress line

	running []string
	done    int
}

// Start notes a scenario that started, for the progress line.
func (c *Console) Start(name string) {
	c.running = append(c.running, name)
	c.progress()
}

func (c *Console) clearProgress() {
	if c.Live {
		io.WriteString(c.W, "\r\x1b[K")
	}
}

func (c *Console) progress() {
	if !c.Live {
		return
	}
	c.clearProgress()
	line := fmt.Sprintf("[%d/%d] running: %s", c.done, c.Total, strings.Join(c.running, ", "))
	if len(line) > 100 {
		line = line[:97] + "..."
	}
	io.WriteString(c.W, line)
}

func (c *Console) paint(st scenario.Status) string {
	s := string(st)
	if !c.Color {
		return s
	}
	code := map[scenario.Status]string{scenario.Pass: "32", scenario.Fail: "31", scenario.Skip: "33", scenario.Interrupted: "35"}[st]
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Done prints a finished scenario.
func (c *Console) Done(o scenario.Outcome) {
	c.clearProgress()
	defer c.progress()
	c.done++
	for i, r := range c.running {
		if r == o.Scenario {
			c.running = append(c.running[:i], c.running[i+1:]...)
			break
		}
	}
	fmt.Fprintf(c.W, "%-4s %s (%.3fs)\n", c.paint(o.Status), o.Scenario, o.Duration.Seconds())
	for _, ch := range o.Checks {
		if ch.Status == scenario.Fail || c.Verbose {
			name := ch.Name
			if ch.IsStep() {
				name = "step: " + name
			}
			fmt.Fprintf(c.W, "     %-4s %s (%.3fs)\n", c.paint(ch.Status), name, ch.Duration.Seconds())
			msg := ch.Message
			if ch.Status != scenario.Fail {
				msg = ch.Evidence
			}
			for _, l := range strings.Split(strings.TrimSpace(msg), "\n") {
				if l != "" {
					fmt.Fprintf(c.W, "          %s\n", l)
				}
			}
		}
	}
	// The scenario's own message, unless it only repeats a check's.
	repeats := false
	for _, ch := range o.Checks {
		if ch.Status == scenario.Fail && (ch.Message == o.Message || ch.IsStep()) {
			repeats = true
		}
	}
	if o.Status != scenario.Pass && o.Message != "" && !repeats {
		fmt.Fprintf(c.W, "     %s\n", strings.ReplaceAll(strings.TrimSpace(o.Message), "\n", "\n     "))
	}
	for _, a := range o.Attachments {
		fmt.Fprintf(c.W, "     attachment: %s\n", a)
	}
	for _, n := range o.Notes {
		fmt.Fprintf(c.W, "     %s\n", n)
	}
}

// Summary prints the totals.
func (c *Console) Summary(outcomes []scenario.Outcome, d time.Duration) {
	c.clearProgress()
	n := map[scenario.Status]int{}
	for _, o := range outcomes {
		n[o.Status]++
	}
	fmt.Fprintf(c.W, "\n%d scenarios: %d passed, %d failed, %d skipped, %d interrupted in %.3fs\n",
		len(outcomes), n[scenario.Pass], n[scenario.Fail], n[scenario.Skip], n[scenario.Interrupted], d.Seconds())
}
