package reports

import (
	"fmt"
	"io"
	"strings"

	"github.com/vtest-dev/vtest/scenario"
)

// Console prints one line per finished scenario with the counts of its
// checks, every failed check in full (its message and evidence), and a
// summary. With Live (stdout is a terminal) it also keeps a
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
	line := fmt.Sprintf("[%d/%d] running: %s", c.done, c.Total, scenario.Printable(strings.Join(c.running, ", ")))
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
	// Names, messages and evidence are escaped: a terminal must not act
	// on what a scenario or a check printed.
	fmt.Fprintf(c.W, "%-4s %s (%.3fs)%s\n", c.paint(o.Status), scenario.Printable(o.Scenario), o.Duration.Seconds(), checkCounts(o.Checks))
	for _, ch := range o.Checks {
		if ch.Status == scenario.Fail || ch.Status == scenario.Skip || c.Verbose {
			name := ch.Name
			if ch.IsStep() {
				name = "step: " + name
			}
			fmt.Fprintf(c.W, "     %-4s %s (%.3fs)\n", c.paint(ch.Status), scenario.Printable(name), ch.Duration.Seconds())
			msg := ch.Message
			switch {
			case ch.Status == scenario.Fail, ch.Status == scenario.Skip && c.Verbose:
				msg = withoutEvidence(ch.Message, ch.Evidence) + "\n" + ch.Evidence
			case ch.Status == scenario.Pass:
				msg = ch.Evidence
			}
			for _, l := range strings.Split(strings.TrimSpace(msg), "\n") {
				if l != "" {
					fmt.Fprintf(c.W, "          %s\n", scenario.Printable(l))
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
		fmt.Fprintf(c.W, "     %s\n", strings.ReplaceAll(scenario.Printable(strings.TrimSpace(o.Message)), "\n", "\n     "))
	}
	for _, a := range o.Attachments {
		fmt.Fprintf(c.W, "     attachment: %s\n", scenario.Printable(a))
	}
	for _, n := range o.Notes {
		fmt.Fprintf(c.W, "     %s\n", scenario.Printable(n))
	}
}

// withoutEvidence returns a failure message without the copy of the
// evidence it ends with (checks fail with "x is not reachable from y:
// <evidence>"), so that the console prints each failure once: the message,
// then the evidence, with the path walk last. The copy is found by the
// start of the evidence's first line up to its first timing figure, as
// the message was written before the check had stopped its clock (a
// stale "took 0.000ms" where the evidence says 1000 ms).
func withoutEvidence(msg, ev string) string {
	head, _, _ := strings.Cut(strings.TrimSpace(ev), "\n")
	if i := strings.Index(head, "took "); i > 0 {
		head = head[:i]
	}
	if len(head) < 8 {
		return msg
	}
	i := strings.LastIndex(msg, head)
	if i < 0 {
		return msg
	}
	// Only a copy the message ends with ("…: <evidence>"): evidence quoted
	// inside the message ("too busy (baseline p90 9ms) (…)") stays.
	if i > 0 && !strings.HasSuffix(strings.TrimRight(msg[:i], " "), ":") && msg[i-1] != '\n' {
		return msg
	}
	if tail := msg[i:]; len(tail) > len(ev)+32 && !strings.HasPrefix(tail, strings.TrimSpace(ev)) {
		return msg
	}
	if kept := strings.TrimRight(msg[:i], ":;, \n"); kept != "" {
		return kept
	}
	return msg[:0]
}

// checkCounts summarises a scenario's checks on its line, so that a
// scenario of many checks reads as one line of passes and every failure in
// full below it: ", 999 checks: 998 passed, 1 failed".
func checkCounts(cs []scenario.CheckOutcome) string {
	n := map[scenario.Status]int{}
	total := 0
	for _, c := range cs {
		if !c.IsStep() {
			n[c.Status]++
			total++
		}
	}
	if total < 2 {
		return ""
	}
	parts := []string{fmt.Sprintf("%d passed", n[scenario.Pass])}
	for _, st := range []scenario.Status{scenario.Fail, scenario.Skip, scenario.Interrupted} {
		if n[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[st], map[scenario.Status]string{scenario.Fail: "failed", scenario.Skip: "skipped", scenario.Interrupted: "interrupted"}[st]))
		}
	}
	return fmt.Sprintf(", %d checks: %s", total, strings.Join(parts, ", "))
}

// Check implements Reporter; the console shows checks with their scenario.
func (c *Console) Check(string, scenario.CheckOutcome) {}

// Finish implements Reporter: it prints the totals.
func (c *Console) Finish(s Summary) error {
	c.Summary(s)
	return nil
}

// recapMax bounds the failed runs the summary lists by name.
const recapMax = 20

// Summary prints the totals, after a recap of the failed runs (one line
// each, at most 20, then how many more, Summary.Omitted included) when the
// run had more than one: their evidence was printed in full as each
// finished, and a long run has scrolled it away.
func (c *Console) Summary(s Summary) {
	c.clearProgress()
	if s.Runs() > 1 && len(s.Failed) > 0 {
		fmt.Fprintf(c.W, "\nnot passed:\n")
		for i, f := range s.Failed {
			if i == recapMax {
				break
			}
			line := fmt.Sprintf("%-4s %s", c.paint(f.Status), scenario.Printable(runName(f.Scenario, f.Run)))
			if f.Message != "" {
				line += ": " + scenario.Printable(f.Message)
			}
			if f.Failed > 1 {
				line += fmt.Sprintf(" (%d checks failed)", f.Failed)
			}
			fmt.Fprintln(c.W, line)
		}
		if more := len(s.Failed) - min(len(s.Failed), recapMax) + s.Omitted; more > 0 {
			fmt.Fprintf(c.W, "     … and %d more\n", more)
		}
	}
	n := s.Counts
	fmt.Fprintf(c.W, "\n%d scenarios: %d passed, %d failed, %d skipped, %d interrupted in %.3fs\n",
		s.Runs(), n[scenario.Pass], n[scenario.Fail], n[scenario.Skip], n[scenario.Interrupted], s.Duration.Seconds())
}
