package reports

import (
	"fmt"
	"io"
	"strings"

	"github.com/vtest-dev/vtest/scenario"
)

// ktapName makes a test name safe for KTAP: no '#' (it starts a directive)
// and no line breaks.
func ktapName(s string) string {
	s = strings.ReplaceAll(token(s), "#", "")
	return strings.TrimSpace(s)
}

// ktapIndent is the indentation of one nesting level
// (Documentation/dev-tools/ktap.rst: two spaces).
const ktapIndent = "  "

// WriteKTAP writes the run in KTAP version 1 (the kernel's format,
// Documentation/dev-tools/ktap.rst): one test per scenario run, with its
// checks as a nested subtest list introduced by "# Subtest: <scenario>"
// (as KUnit writes it), directives SKIP, TIMEOUT (a scenario that timed
// out) and ERROR (interrupted, or running when the suite crashed), and a
// kselftest-style "# Totals:" line. The top-level lines are valid TAP for
// TAP consumers such as prove; nested lines are indented, which TAP
// ignores. It is what a KTAP reporter streams for these outcomes.
func WriteKTAP(w io.Writer, outcomes []scenario.Outcome) error {
	k := NewKTAP(w, len(outcomes))
	for _, o := range outcomes {
		k.Done(o)
	}
	return k.Finish(Summarize(outcomes, 0))
}

// KTAP is a Reporter streaming the run as KTAP to W (see WriteKTAP):
// NewKTAP writes the version and plan lines, Done each scenario run's test
// as it finishes, numbered in the order they finish, and Finish the
// totals. Nothing is kept but the number of runs of each scenario, which
// names repeated runs.
type KTAP struct {
	w    io.Writer
	n    int            // tests written
	runs map[string]int // runs so far, by scenario
	err  error          // the first write error
}

// NewKTAP starts a KTAP stream of a run of runs scenario runs on w: the
// plan comes first in KTAP, and the number of runs is known from the
// scenario list before any runs.
func NewKTAP(w io.Writer, runs int) *KTAP {
	k := &KTAP{w: w, runs: map[string]int{}}
	k.write(fmt.Sprintf("KTAP version 1\n1..%d\n", runs))
	return k
}

// ResumeKTAP continues a KTAP stream of which another process wrote the
// header and the first written tests before it died: the next test is
// numbered written+1. runs are the scenarios of those tests, in order, so
// that repeated runs keep their names.
func ResumeKTAP(w io.Writer, runs []string) *KTAP {
	k := &KTAP{w: w, n: len(runs), runs: map[string]int{}}
	for _, name := range runs {
		k.runs[name]++
	}
	return k
}

func (k *KTAP) write(s string) {
	if k.err == nil {
		_, k.err = io.WriteString(k.w, s)
	}
}

// Start implements Reporter.
func (*KTAP) Start(string) {}

// Check implements Reporter.
func (*KTAP) Check(string, scenario.CheckOutcome) {}

// Done implements Reporter: it writes the scenario run's test, with its
// checks as subtests, in one write.
func (k *KTAP) Done(o scenario.Outcome) {
	k.n++
	k.runs[o.Scenario]++
	var b strings.Builder
	name := runName(ktapName(o.Scenario), k.runs[o.Scenario])
	if len(o.Checks) > 0 {
		in := ktapIndent
		b.WriteString(in + "KTAP version 1\n")
		fmt.Fprintf(&b, "%s# Subtest: %s\n", in, name)
		// Checks are the numbered subtests; steps are diagnostic
		// lines between them ("# step NAME: PASS").
		checks := 0
		for _, c := range o.Checks {
			if !c.IsStep() {
				checks++
			}
		}
		fmt.Fprintf(&b, "%s1..%d\n", in, checks)
		j := 0
		for _, c := range o.Checks {
			if c.Status == scenario.Fail {
				diagnostic(&b, in, c.Message)
			}
			if c.IsStep() {
				fmt.Fprintf(&b, "%s# step %s: %s\n", in, ktapName(c.Name), c.Status)
				continue
			}
			j++
			fmt.Fprintf(&b, "%s%s\n", in, ktapLine(c.Status, "", j, c.Name, c.Message))
		}
	}
	if o.Status == scenario.Fail || o.Status == scenario.Interrupted {
		diagnostic(&b, "", o.Message)
	}
	b.WriteString(ktapLine(o.Status, kind(o), k.n, name, o.Message) + "\n")
	k.write(b.String())
}

// Finish implements Reporter: the "# Totals:" line of the whole run, and
// the first error writing the stream. Interrupted runs and runs that were
// running when the suite crashed are errors.
func (k *KTAP) Finish(s Summary) error {
	n := s.Counts
	errs := n[scenario.Interrupted] + s.Crashed
	fail := n[scenario.Fail] - s.Crashed
	k.write(fmt.Sprintf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:%d\n", n[scenario.Pass], fail, n[scenario.Skip], errs))
	return k.err
}

// diagnostic writes msg as KTAP diagnostic lines.
func diagnostic(b *strings.Builder, indent, msg string) {
	for _, l := range strings.Split(strings.TrimRight(Clean(msg), "\n"), "\n") {
		fmt.Fprintf(b, "%s# %s\n", indent, l)
	}
}

// ktapLine is a result line; kind is the scenario's kind (see kind) or ""
// for a check.
func ktapLine(st scenario.Status, kind string, n int, name, msg string) string {
	reason := strings.ReplaceAll(firstLine(msg), "#", "")
	switch {
	case st == scenario.Pass:
		return fmt.Sprintf("ok %d %s", n, ktapName(name))
	case st == scenario.Skip:
		return fmt.Sprintf("ok %d %s # SKIP %s", n, ktapName(name), reason)
	case kind == "timeout":
		return fmt.Sprintf("not ok %d %s # TIMEOUT %s", n, ktapName(name), reason)
	case kind == "crash" || kind == "interrupted":
		return fmt.Sprintf("not ok %d %s # ERROR %s", n, ktapName(name), reason)
	}
	return fmt.Sprintf("not ok %d %s", n, ktapName(name))
}
