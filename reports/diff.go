package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Change is how one check's result differs between two reports.
type Change struct {
	Scenario, Check string
	Old, New        string // "pass", "fail", "error", "skip" or "" when absent
}

// Regression reports whether a check that passed no longer does.
func (c Change) Regression() bool {
	return c.Old == "pass" && (c.New == "fail" || c.New == "error")
}

// Kind names the change: regression, fixed, run→skip, skip→run, new,
// removed, or changed.
func (c Change) Kind() string {
	switch {
	case c.Regression():
		return "REGRESSION"
	case c.New == "pass" && (c.Old == "fail" || c.Old == "error"):
		return "fixed"
	case c.Old == "":
		return "new"
	case c.New == "":
		return "removed"
	case c.New == "skip":
		return "run→skip"
	case c.Old == "skip":
		return "skip→run"
	}
	return "changed"
}

// statusRank orders statuses from best to worst, to fold repeated runs.
var statusRank = map[string]int{"pass": 0, "skip": 1, "fail": 2, "error": 3}

// ReadResults reads a JUnit report into scenario/check → status.
func ReadResults(r io.Reader) (map[[2]string]string, error) {
	var doc junitSuites
	if err := xml.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a JUnit testsuites document: %w", err)
	}
	out := map[[2]string]string{}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			st := c.status()
			k := [2]string{s.Name, c.Name}
			if old, ok := out[k]; !ok || statusRank[st] > statusRank[old] {
				out[k] = st
			}
		}
	}
	return out, nil
}

// Diff compares two JUnit reports (say of the same suite on two kernels)
// and returns every check whose status differs, sorted.
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
	for k, st := range a {
		if b[k] != st {
			out = append(out, Change{Scenario: k[0], Check: k[1], Old: st, New: b[k]})
		}
	}
	for k, st := range b {
		if _, ok := a[k]; !ok {
			out = append(out, Change{Scenario: k[0], Check: k[1], New: st})
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
	regressions := 0
	for _, c := range changes {
		if c.Regression() {
			regressions++
		}
		fmt.Fprintf(w, "%-11s %s / %s: %s → %s\n", c.Kind(), c.Scenario, c.Check, orNone(c.Old), orNone(c.New))
	}
	if len(changes) == 0 {
		fmt.Fprintln(w, "no differences")
		return
	}
	fmt.Fprintf(w, "%d change(s), %d regression(s)\n", len(changes), regressions)
}

func orNone(s string) string {
	if s == "" {
		return "absent"
	}
	return strings.ToUpper(s)
}
