// Package reports writes the outcome of a vtest run for people and for CI:
// JUnit XML (valid against the Jenkins xUnit and the strict Ant schemas),
// KTAP, JSON lines, and the console.
package reports

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// Meta describes the machine and run a report comes from.
type Meta struct {
	Kernel   string // kernel release
	Version  string // vtest version
	Hostname string
	Start    time.Time
}

// Package is the package attribute of every JUnit testsuite.
const Package = "vtest"

// junitSuites is the root. It has no attributes: the strict Ant schema
// allows none there, and consumers sum the testsuites themselves.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Package    string          `xml:"package,attr"`
	ID         int             `xml:"id,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Hostname   string          `xml:"hostname,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out"`
	SystemErr  string          `xml:"system-err"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Skipped   *junitMessage `xml:"skipped"`
	Error     *junitMessage `xml:"error"`
	Failure   *junitMessage `xml:"failure"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// status classifies a case: "pass", "fail", "error" or "skip".
func (c junitCase) status() string {
	switch {
	case c.Failure != nil:
		return "fail"
	case c.Error != nil:
		return "error"
	case c.Skipped != nil:
		return "skip"
	}
	return "pass"
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]`)

// Clean strips ANSI escape sequences and the characters XML 1.0 forbids;
// encoding/xml escapes the rest.
func Clean(s string) string {
	s = ansi.ReplaceAllString(s, "")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == 0xFFFE, r == 0xFFFF, r >= 0xD800 && r <= 0xDFFF:
			return -1
		}
		return r
	}, s)
}

// token makes a value fit xs:token: no leading, trailing or repeated
// spaces, no line breaks.
func token(s string) string { return strings.Join(strings.Fields(Clean(s)), " ") }

// firstLine shortens a message for an attribute.
func firstLine(s string) string {
	s, _, _ = strings.Cut(Clean(s), "\n")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

// maxXMLText bounds the text of one element of the JUnit report, below
// the 10 MB that libxml2 (xmllint, and tools built on it) accepts.
const maxXMLText = 8 << 20

// JUnitOptions tune the JUnit report.
type JUnitOptions struct {
	// Strict writes the form the strict Ant schema accepts: evidence, node
	// state and attachments in each testsuite's system-out, nothing inside
	// testcases. By default each testcase carries its own evidence in its
	// system-out, and each failed one the scenario's attachments (GitLab
	// reads only a testcase's system-out).
	Strict bool
	// Source adds file and line attributes (the Check call that declared
	// the check) to each testcase. GitHub and GitLab reporters read them;
	// neither schema allows them.
	Source bool
}

// WriteJUnit writes a JUnit XML report: testsuites > one testsuite per
// scenario run > one testcase per check, plus setup, teardown, timeout,
// interrupted and crash cases when a scenario ended that way. Repeated runs
// of a scenario are named "name (run 2)" and so on; classnames are
// "vtest.<scenario>" with dots in the scenario name replaced by "_", so
// Jenkins does not split them into packages.
func WriteJUnit(w io.Writer, outcomes []scenario.Outcome, plans []Planned, m Meta, opt JUnitOptions) error {
	out := junitStream{w: w}
	if err := out.begin(); err != nil {
		return err
	}
	plan := byName(plans)
	runs := runNumbers(outcomes)
	for i, o := range outcomes {
		if err := out.suite(junitSuiteOf(o, i, runs[i], plan[o.Scenario], m, opt)); err != nil {
			return err
		}
	}
	return out.end()
}

// junitSuiteOf is the testsuite of one scenario run: the id-th of the
// report and the run-th run of its scenario.
func junitSuiteOf(o scenario.Outcome, id, run int, p Planned, m Meta, opt JUnitOptions) junitSuite {
	s := junitSuite{
		Name: runName(token(o.Scenario), run), Package: Package, ID: id, Hostname: token(m.Hostname),
		Timestamp: m.Start.UTC().Format("2006-01-02T15:04:05"), Time: seconds(o.Duration),
		Properties: []junitProperty{{"kernel", m.Kernel}, {"vtest.version", m.Version}, {"hostname", m.Hostname}},
	}
	if p.Description != "" {
		s.Properties = append(s.Properties, junitProperty{"description", Clean(p.Description)})
	}
	cls := Classname(o.Scenario)
	source := map[string]PlannedCheck{}
	for _, c := range p.Checks {
		source[c.Name] = c
	}
	add := func(c junitCase, file string, line int) {
		c.Classname = cls
		c.Name = token(c.Name)
		if c.Name == "" {
			c.Name = "unnamed"
		}
		c.Name = runName(c.Name, run)
		if opt.Source && file != "" {
			c.File, c.Line = relPath(file), line
		}
		s.Cases = append(s.Cases, c)
	}
	var out strings.Builder // the suite's system-out
	msg := func(typ string) *junitMessage {
		return &junitMessage{Message: firstLine(o.Message), Type: typ, Body: Clean(o.Message)}
	}
	switch k := kind(o); {
	case o.Status == scenario.Skip:
		checks := p.Checks
		if len(checks) == 0 {
			checks = []PlannedCheck{{Name: "scenario"}}
		}
		for _, c := range checks {
			add(junitCase{Name: c.Name, Time: "0.000", Skipped: &junitMessage{Message: firstLine(o.Message), Body: Clean(o.Message)}}, c.File, c.Line)
		}
	case len(o.Checks) == 0 && k == "crash":
		add(junitCase{Name: "crash", Time: seconds(o.Duration), Error: msg("Crash")}, "", 0)
	case len(o.Checks) == 0 && k == "interrupted":
		add(junitCase{Name: "setup", Time: seconds(o.Duration), Error: msg("Interrupted")}, "", 0)
	case len(o.Checks) == 0 && o.Status == scenario.Fail:
		add(junitCase{Name: "setup", Time: seconds(o.Build), Failure: msg(failType(k))}, "", 0)
	}
	for _, c := range o.Checks {
		if c.IsStep() {
			// Steps are not tests: a passed or skipped one is a line
			// of system-out, a failed one an error case "step: NAME".
			fmt.Fprintf(&out, "[STEP %s] %s: %s\n", c.Status, c.Name, firstNonEmpty(c.Evidence, c.Message))
			if c.Status == scenario.Fail {
				add(junitCase{Name: "step: " + c.Name, Time: seconds(c.Duration), Error: &junitMessage{Message: firstLine(c.Message), Type: "StepFailed", Body: Clean(c.Message + "\n\nstep: " + c.Evidence)}}, "", 0)
			}
			continue
		}
		jc := junitCase{Name: c.Name, Time: seconds(c.Duration)}
		switch c.Status {
		case scenario.Fail:
			body := c.Message
			if c.Evidence != "" {
				body += "\n\nevidence:\n" + c.Evidence
			}
			jc.Failure = &junitMessage{Message: firstLine(c.Message), Type: "CheckFailed", Body: Clean(body)}
		case scenario.Skip:
			jc.Skipped = &junitMessage{Message: firstLine(c.Message), Body: Clean(c.Message)}
		}
		if opt.Strict {
			if c.Evidence != "" {
				fmt.Fprintf(&out, "[%s] %s: %s\n", c.Status, c.Name, c.Evidence)
			}
		} else {
			jc.SystemOut = Clean(c.Evidence)
		}
		file, line := c.File, c.Line
		if file == "" {
			file, line = source[c.Name].File, source[c.Name].Line
		}
		add(jc, file, line)
	}
	if len(o.Checks) > 0 {
		switch k := kind(o); k {
		case "crash":
			add(junitCase{Name: "crash", Time: "0.000", Error: msg("Crash")}, "", 0)
		case "interrupted":
			add(junitCase{Name: "interrupted", Time: "0.000", Error: msg("Interrupted")}, "", 0)
		case "timeout", "teardown":
			add(junitCase{Name: o.Step, Time: seconds(o.Teardown), Failure: msg(failType(k))}, "", 0)
		}
	}
	if excerpt, ok := KernelWarning(o.KernelLog); ok {
		add(junitCase{Name: "kernel log", Time: "0.000", Failure: &junitMessage{Message: firstLine(excerpt), Type: "KernelWarning",
			Body: Clean("the kernel logged a warning while the scenario ran:\n" + excerpt)}}, "", 0)
	}
	var extra strings.Builder // node state and attachments of a failed run
	if o.State != "" {
		extra.WriteString("\nnode state at failure:\n" + o.State)
	}
	for _, a := range o.Attachments {
		// Relative to the working directory (GitLab resolves them
		// against the project directory, Jenkins' attachments plugin
		// against the workspace); absolute when outside it.
		fmt.Fprintf(&extra, "\n[[ATTACHMENT|%s]]\n", relPath(a))
	}
	attached := false
	if !opt.Strict && extra.Len() > 0 {
		for j := range s.Cases {
			if c := &s.Cases[j]; c.Failure != nil || c.Error != nil {
				c.SystemOut = Clean(strings.TrimLeft(c.SystemOut+"\n"+extra.String(), "\n"))
				attached = true
			}
		}
	}
	if !attached {
		out.WriteString(extra.String())
	}
	// Each check's evidence is bounded (scenario.MaxEvidence), but a
	// testsuite's system-out gathers all of them in the strict form:
	// libxml2 refuses text nodes over 10 MB.
	s.SystemOut = Clean(scenario.BoundText(out.String(), maxXMLText))
	s.SystemErr = Clean(scenario.BoundText(o.KernelLog, maxXMLText)) // what the kernel logged meanwhile
	for _, c := range s.Cases {
		s.Tests++
		switch c.status() {
		case "fail":
			s.Failures++
		case "error":
			s.Errors++
		case "skip":
			s.Skipped++
		}
	}
	return s
}

// Classname is the JUnit classname of a scenario's testcases:
// "vtest.<scenario>", with dots in the scenario name replaced by "_",
// since Jenkins splits a classname at its last dot into package and class.
func Classname(scenarioName string) string {
	return Package + "." + strings.ReplaceAll(token(scenarioName), ".", "_")
}

// runName names the k-th run of a test: "name" for the first,
// "name (run k)" after.
func runName(name string, k int) string {
	if k <= 1 {
		return name
	}
	return fmt.Sprintf("%s (run %d)", name, k)
}

var runSuffix = regexp.MustCompile(` \(run [0-9]+\)$`)

// baseName undoes runName: the name without its " (run k)" suffix.
func baseName(name string) string {
	return runSuffix.ReplaceAllString(name, "")
}

// relPath returns p relative to the working directory when it lies inside
// it, else absolute.
func relPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	wd, err := os.Getwd()
	if err != nil {
		return abs
	}
	rel, err := filepath.Rel(wd, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return abs
	}
	return rel
}

func failType(kind string) string {
	switch kind {
	case "timeout":
		return "Timeout"
	case "invalid":
		return "InvalidScenario"
	case "teardown":
		return "TeardownFailed"
	}
	return "SetupFailed"
}

// JUnitFile is a Reporter that keeps a JUnit report at Path up to date,
// so a run killed midway leaves a valid report of the scenarios finished
// by then: it is rewritten (atomically) after every scenario while it is
// under 1 MiB, after that whenever it has grown by a quarter since it was
// last written, and once more at the end. (So the bytes written stay under
// about six times the report's size instead of growing with its square;
// vtest run rebuilds every finished scenario of a suite that died from its
// event stream anyway.) It streams: each finished scenario is encoded once
// into a spool (an unlinked temporary file) and dropped, so it never holds
// more than one scenario's results, however many scenarios and checks the
// run has.
type JUnitFile struct {
	Path    string
	Plans   []Planned
	Meta    Meta
	Options JUnitOptions
	// Log, when set, receives errors of the intermediate writes.
	Log func(error)
	// Written, when set, is called after each write (e.g. to give the
	// file to the user behind sudo).
	Written func() error

	spool   *os.File       // the encoded testsuites so far
	size    int64          // bytes in spool
	written int64          // bytes of spool in the report at Path
	suites  int            // testsuites in spool
	runs    map[string]int // runs so far, by scenario
	plan    map[string]Planned
}

// Start implements Reporter.
func (j *JUnitFile) Start(string) {}

// Check implements Reporter.
func (j *JUnitFile) Check(string, scenario.CheckOutcome) {}

// Done implements Reporter.
func (j *JUnitFile) Done(o scenario.Outcome) {
	err := j.add(o)
	if err == nil && (j.written < rewriteAlways || j.size-j.written >= j.written/4) {
		err = j.write()
	}
	if err != nil && j.Log != nil {
		j.Log(err)
	}
}

// Finish implements Reporter: it writes the report of the scenario runs
// seen by Done once more (also when there were none) and drops the spool.
func (j *JUnitFile) Finish(Summary) error {
	defer j.reset()
	return j.write()
}

// add encodes one scenario run into the spool.
func (j *JUnitFile) add(o scenario.Outcome) error {
	if j.spool == nil {
		f, err := os.CreateTemp("", "vtest-junit-*")
		if err != nil {
			return fmt.Errorf("JUnit report: %w", err)
		}
		os.Remove(f.Name()) // unlinked: gone with the process, whatever happens
		j.spool, j.size, j.written, j.suites, j.runs, j.plan = f, 0, 0, 0, map[string]int{}, byName(j.Plans)
	}
	j.runs[o.Scenario]++
	b, err := encodeSuite(junitSuiteOf(o, j.suites, j.runs[o.Scenario], j.plan[o.Scenario], j.Meta, j.Options))
	if err != nil {
		return err
	}
	n, err := j.spool.WriteAt(b, j.size)
	j.size += int64(n)
	if err != nil {
		return fmt.Errorf("JUnit report: spool: %w", err)
	}
	j.suites++
	return nil
}

// rewriteAlways is the report size under which JUnitFile rewrites the
// report after every scenario.
const rewriteAlways = 1 << 20

// write writes the report from the spool, atomically.
func (j *JUnitFile) write() error {
	j.written = j.size
	err := WriteFileAtomic(j.Path, func(w io.Writer) error {
		out := junitStream{w: w}
		if err := out.begin(); err != nil {
			return err
		}
		if j.suites > 0 {
			if _, err := io.Copy(w, io.NewSectionReader(j.spool, 0, j.size)); err != nil {
				return err
			}
			out.suites = j.suites
		}
		return out.end()
	})
	if err == nil && j.Written != nil {
		err = j.Written()
	}
	return err
}

// reset drops the spool.
func (j *JUnitFile) reset() {
	if j.spool != nil {
		j.spool.Close()
	}
	j.spool, j.size, j.written, j.suites, j.runs = nil, 0, 0, 0, nil
}

// MergeJUnit merges JUnit reports (for example one per shard) into one:
// every testsuite of every input, renumbered, with the totals summed.
// Repeated runs keep distinct names across inputs: the k-th testsuite or
// testcase of one name is called "name (run k)". It streams: one testsuite
// at a time is read, renamed and written, so reports of any size merge in
// little memory; on a bad input the output stops there and the error says
// which input.
func MergeJUnit(w io.Writer, inputs ...io.Reader) error {
	out := junitStream{w: w}
	if err := out.begin(); err != nil {
		return err
	}
	suiteRuns, caseRuns := map[string]int{}, map[[2]string]int{}
	for i, in := range inputs {
		err := eachSuite(in, func(s junitSuite) error {
			s.ID = out.suites
			base := baseName(s.Name)
			suiteRuns[base]++
			s.Name = runName(base, suiteRuns[base])
			for j := range s.Cases {
				c := &s.Cases[j]
				k := [2]string{c.Classname, baseName(c.Name)}
				caseRuns[k]++
				c.Name = runName(k[1], caseRuns[k])
			}
			return out.suite(s)
		})
		if err != nil {
			return fmt.Errorf("input %d: not a JUnit testsuites document: %w", i+1, err)
		}
	}
	return out.end()
}

// eachSuite reads a testsuites document and calls fn with each testsuite
// in turn.
func eachSuite(in io.Reader, fn func(junitSuite) error) error {
	dec := xml.NewDecoder(in)
	root := false
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("no testsuites element")
			}
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !root {
				if t.Name.Local != "testsuites" {
					return fmt.Errorf("expected element type <testsuites> but have <%s>", t.Name.Local)
				}
				root = true
				continue
			}
			if t.Name.Local != "testsuite" {
				if err := dec.Skip(); err != nil {
					return err
				}
				continue
			}
			var s junitSuite
			if err := dec.DecodeElement(&s, &t); err != nil {
				return err
			}
			if err := fn(s); err != nil {
				return err
			}
		case xml.EndElement: // of testsuites
			return nil
		}
	}
}

// junitStream writes a testsuites document one testsuite at a time, laid
// out exactly as xml.Encoder with two-space indentation lays out the
// whole document (junitSuites).
type junitStream struct {
	w      io.Writer
	suites int // written so far
}

func (j *junitStream) begin() error {
	_, err := io.WriteString(j.w, xml.Header+"<testsuites>")
	return err
}

func (j *junitStream) suite(s junitSuite) error {
	b, err := encodeSuite(s)
	if err != nil {
		return err
	}
	if _, err := j.w.Write(b); err != nil {
		return err
	}
	j.suites++
	return nil
}

func (j *junitStream) end() error {
	end := "\n</testsuites>\n"
	if j.suites == 0 {
		end = "</testsuites>\n"
	}
	_, err := io.WriteString(j.w, end)
	return err
}

// encodeSuite encodes one testsuite as xml.Encoder lays it out inside
// an indented testsuites document.
func encodeSuite(s junitSuite) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("\n")
	enc := xml.NewEncoder(&b)
	enc.Indent("  ", "  ")
	if err := enc.EncodeElement(s, xml.StartElement{Name: xml.Name{Local: "testsuite"}}); err != nil {
		return nil, fmt.Errorf("encode JUnit XML: %w", err)
	}
	return b.Bytes(), nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
