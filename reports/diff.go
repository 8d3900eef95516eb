package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Result is a check's result in one report, over all its runs (a report
// holds several with -count or merged reruns).
type Result struct {
	Runs, Passed, Failed, Skipped int // Failed counts failures and errors
}

// Status folds the runs: "pass", "fail", "skip", "flaky" (some runs passed,
// some failed) or "" when the check is absent.
func (r Result) Status() string {
	switch {
	case r.Runs == 0:
		return ""
	case r.Passed > 0 && r.Failed > 0:
		return "flaky"
	case r.Failed > 0:
		return "fail"
	case r.Passed > 0:
		return "pass"
	}
	return "skip"
}

func (r Result) String() string {
	st := strings.ToUpper(r.Status())
	switch {
	case st == "":
		return "absent"
	case r.Runs > 1:
		return fmt.Sprintf("%s (%d/%d passed)", st, r.Passed, r.Runs)
	}
	return st
}

// Change is how one check's result differs between two reports.
type Change struct {
	Scenario, Check string
	Old, New        Result
}

// Regression reports whether a check that passed now fails in every run.
// A check that fails in some runs only is a flake, not a regression.
func (c Change) Regression() bool {
	return c.Old.Status() == "pass" && c.New.Status() == "fail"
}

// Kind names the change: REGRESSION, FLAKY, fixed, run→skip, skip→run,
// new, removed, or changed.
func (c Change) Kind() string {
	o, n := c.Old.Status(), c.New.Status()
	switch {
	case c.Regression():
		return "REGRESSION"
	case n == "flaky":
		return "FLAKY"
	case n == "pass" && (o == "fail" || o == "flaky"):
		return "fixed"
	case o == "":
		return "new"
	case n == "":
		return "removed"
	case n == "skip":
		return "run→skip"
	case o == "skip":
		return "skip→run"
	}
	return "changed"
}

// ReadResults reads a JUnit report into scenario/check → result, folding
// repeated runs ("name (run k)") of a scenario and a check together.
func ReadResults(r io.Reader) (map[[2]string]Result, error) {
	var doc junitSuites
	if err := xml.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a JUnit testsuites document: %w", err)
	}
	out := map[[2]string]Result{}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			k := [2]string{baseName(s.Name), baseName(c.Name)}
			res := out[k]
			res.Runs++
			switch c.status() {
			case "pass":
				res.Passed++
			case "fail", "error":
				res.Failed++
			case "skip":
				res.Skipped++
			}
			out[k] = res
		}
	}
	return out, nil
}

// Diff compares two JUnit reports (say of the same suite on two kernels)
// and returns every check whose folded status differs, or that is flaky in
// the new report, sorted.
func Diff(old, new io.Reader) ([]Change, error) {
	a, err := ReadResults(old)
	if err != nil {
		return nil, fmt.Errorf("old report: %w", err)
	}
	b, err := ReadResults(new)
	if err != nil {
		return nil, fmt.Errorf("new report: %w", err)
	}
	var out []Change
	for k, r := range a {
		if n := b[k]; n.Status() != r.Status() || n.Status() == "flaky" {
			out = append(out, Change{Scenario: k[0], Check: k[1], Old: r, New: n})
		}
	}
	for k, r := range b {
		if _, ok := a[k]; !ok {
			out = append(out, Change{Scenario: k[0], Check: k[1], New: r})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Scenario != out[j].Scenario {
			return out[i].Scenario < out[j].Scenario
		}
		return out[i].Check < out[j].Check
	})
	return out, nil
}

// WriteDiff prints changes as a table and a summary line.
func WriteDiff(w io.Writer, changes []Change) {
	for _, c := range changes {
		fmt.Fprintf(w, "%-11s %s / %s: %s → %s\n", c.Kind(), c.Scenario, c.Check, c.Old, c.New)
	}
	if len(changes) == 0 {
		fmt.Fprintln(w, "no differences")
		return
	}
	fmt.Fprintln(w, diffSummary(changes))
}

func diffSummary(changes []Change) string {
	regressions, flaky := 0, 0
	for _, c := range changes {
		switch c.Kind() {
		case "REGRESSION":
			regressions++
		case "FLAKY":
			flaky++
		}
	}
	return fmt.Sprintf("%d change(s), %d regression(s), %d flaky", len(changes), regressions, flaky)
}

// WriteDiffMarkdown prints changes as a Markdown table, for a merge-request
// comment.
func WriteDiffMarkdown(w io.Writer, changes []Change) {
	fmt.Fprintln(w, "### vtest diff")
	fmt.Fprintln(w)
	if len(changes) == 0 {
		fmt.Fprintln(w, "No differences.")
		return
	}
	fmt.Fprintf(w, "%s.\n\n", diffSummary(changes))
	fmt.Fprintln(w, "| change | scenario | check | old | new |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, c := range changes {
		kind := c.Kind()
		if kind == "REGRESSION" || kind == "FLAKY" {
			kind = "**" + kind + "**"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", kind, mdCell(c.Scenario), mdCell(c.Check), c.Old, c.New)
	}
}

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	r := strings.NewReplacer("|", `\|`, "\n", " ", "`", "'", "*", `\*`, "_", `\_`, "<", "&lt;")
	return r.Replace(s)
}
