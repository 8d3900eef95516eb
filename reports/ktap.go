package reports

import (
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
// ignores.
func WriteKTAP(w io.Writer, outcomes []scenario.Outcome) error {
	var b strings.Builder
	b.WriteString("KTAP version 1\n")
	fmt.Fprintf(&b, "1..%d\n", len(outcomes))
	var pass, fail, skip, errs int
	runs := runNumbers(outcomes)
	for i, o := range outcomes {
		name := runName(ktapName(o.Scenario), runs[i])
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
		k := kind(o)
		if o.Status == scenario.Fail || o.Status == scenario.Interrupted {
			diagnostic(&b, "", o.Message)
		}
		switch {
		case o.Status == scenario.Pass:
			pass++
		case o.Status == scenario.Skip:
			skip++
		case k == "crash" || k == "interrupted":
			errs++
		default:
			fail++
		}
		b.WriteString(ktapLine(o.Status, k, i+1, name, o.Message) + "\n")
	}
	fmt.Fprintf(&b, "# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:%d\n", pass, fail, skip, errs)
	_, err := io.WriteString(w, b.String())
	return err
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

// KTAP is a Reporter that writes the whole run as KTAP to W when it
// finishes (KTAP's plan line comes first).
type KTAP struct{ W io.Writer }

// Start implements Reporter.
func (KTAP) Start(string) {}

// Check implements Reporter.
func (KTAP) Check(string, scenario.CheckOutcome) {}

// Done implements Reporter.
func (KTAP) Done(scenario.Outcome) {}

// Finish implements Reporter.
func (k KTAP) Finish(outcomes []scenario.Outcome, _ time.Duration) error {
	return WriteKTAP(k.W, outcomes)
}
