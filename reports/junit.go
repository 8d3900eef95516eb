// Package reports writes the outcome of a vtest run for people and for CI:
// JUnit XML (valid against the Jenkins xUnit and the strict Ant schemas),
// KTAP, JSON lines, and the console.
package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sys/unix"

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
	Skipped   *junitMessage `xml:"skipped"`
	Error     *junitMessage `xml:"error"`
	Failure   *junitMessage `xml:"failure"`
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

// WriteJUnit writes a JUnit XML report: testsuites > one testsuite per
// scenario run > one testcase per check, plus setup and teardown cases when
// those fail.
func WriteJUnit(w io.Writer, outcomes []scenario.Outcome, specs map[string]*scenario.Spec, m Meta) error {
	var doc junitSuites
	for i, o := range outcomes {
		s := junitSuite{
			Name: token(o.Scenario), Package: Package, ID: i, Hostname: token(m.Hostname),
			Timestamp: m.Start.UTC().Format("2006-01-02T15:04:05"), Time: seconds(o.Duration),
			Properties: []junitProperty{{"kernel", m.Kernel}, {"vtest.version", m.Version}, {"hostname", m.Hostname}},
		}
		if spec := specs[o.Scenario]; spec != nil && spec.Description != "" {
			s.Properties = append(s.Properties, junitProperty{"description", Clean(spec.Description)})
		}
		cls := token(Package + "." + o.Scenario)
		add := func(c junitCase) {
			c.Classname = cls
			c.Name = token(c.Name)
			if c.Name == "" {
				c.Name = "unnamed"
			}
			s.Cases = append(s.Cases, c)
		}
		var out strings.Builder
		switch {
		case o.Status == scenario.Skip:
			names := checkNames(specs[o.Scenario])
			if len(names) == 0 {
				names = []string{"scenario"}
			}
			for _, n := range names {
				add(junitCase{Name: n, Time: "0.000", Skipped: &junitMessage{Message: firstLine(o.Message), Body: Clean(o.Message)}})
			}
		case o.Status == scenario.Interrupted && len(o.Checks) == 0:
			add(junitCase{Name: "setup", Time: seconds(o.Duration), Error: &junitMessage{Message: firstLine(o.Message), Type: "Interrupted", Body: Clean(o.Message)}})
		case len(o.Checks) == 0 && o.Status == scenario.Fail:
			add(junitCase{Name: "setup", Time: seconds(o.Build), Failure: &junitMessage{Message: firstLine(o.Message), Type: failType(o), Body: Clean(o.Message)}})
		}
		for _, c := range o.Checks {
			if c.IsStep() {
				// Steps are not tests: a passed or skipped one is a line
				// of system-out, a failed one an error case "step: NAME".
				fmt.Fprintf(&out, "[STEP %s] %s: %s\n", c.Status, c.Name, firstNonEmpty(c.Evidence, c.Message))
				if c.Status == scenario.Fail {
					add(junitCase{Name: "step: " + c.Name, Time: seconds(c.Duration), Error: &junitMessage{Message: firstLine(c.Message), Type: "StepFailed", Body: Clean(c.Message + "\n\nstep: " + c.Evidence)}})
				}
				continue
			}
			jc := junitCase{Name: c.Name, Time: seconds(c.Duration)}
			switch c.Status {
			case scenario.Fail:
				jc.Failure = &junitMessage{Message: firstLine(c.Message), Type: "CheckFailed", Body: Clean(c.Message + "\n\nevidence:\n" + c.Evidence)}
			case scenario.Skip:
				jc.Skipped = &junitMessage{Message: firstLine(c.Message), Body: Clean(c.Message)}
			}
			add(jc)
			if c.Evidence != "" {
				fmt.Fprintf(&out, "[%s] %s: %s\n", c.Status, c.Name, c.Evidence)
			}
		}
		if len(o.Checks) > 0 && o.Status == scenario.Interrupted {
			add(junitCase{Name: "interrupted", Time: "0.000", Error: &junitMessage{Message: firstLine(o.Message), Type: "Interrupted", Body: Clean(o.Message)}})
		}
		if len(o.Checks) > 0 && o.Status == scenario.Fail && (o.Step == "teardown" || strings.HasPrefix(o.Message, "timed out")) {
			add(junitCase{Name: o.Step, Time: seconds(o.Teardown), Failure: &junitMessage{Message: firstLine(o.Message), Type: failType(o), Body: Clean(o.Message)}})
		}
		if o.State != "" {
			out.WriteString("\nnode state at failure:\n" + o.State)
		}
		for _, a := range o.Attachments {
			abs, err := filepath.Abs(a)
			if err != nil {
				abs = a
			}
			fmt.Fprintf(&out, "[[ATTACHMENT|%s]]\n", abs)
		}
		s.SystemOut = Clean(out.String())
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
		doc.Suites = append(doc.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encode JUnit XML: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func failType(o scenario.Outcome) string {
	switch {
	case strings.HasPrefix(o.Message, "timed out"):
		return "Timeout"
	case o.Step == "validate":
		return "InvalidScenario"
	case o.Step == "teardown":
		return "TeardownFailed"
	}
	return "SetupFailed"
}

func checkNames(s *scenario.Spec) []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, c := range s.Checks() {
		out = append(out, c.Name)
	}
	return out
}

// WriteFileAtomic writes a report so that a reader never sees half of it,
// even if the run is killed while writing: the content goes to a file with
// no name (O_TMPFILE), which is linked under a temporary name and renamed
// over path only when complete. A SIGKILL during the write therefore leaves
// nothing behind. Where O_TMPFILE is not supported it falls back to a named
// temporary file in the same directory.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	dir, base := filepath.Dir(path), filepath.Base(path)
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return writeViaTemp(path, write)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if err := write(f); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.tmp-%d-%d", base, os.Getpid(), time.Now().UnixNano()))
	// Linking through /proc needs no privilege beyond writing to dir.
	if err := unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), unix.AT_FDCWD, tmp, unix.AT_SYMLINK_FOLLOW); err != nil {
		return writeViaTemp(path, write)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// writeViaTemp writes through a named temporary file and a rename.
func writeViaTemp(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// MergeJUnit merges JUnit reports (for example one per shard) into one:
// every testsuite of every input, renumbered, with the totals summed.
func MergeJUnit(w io.Writer, inputs ...io.Reader) error {
	var all junitSuites
	for i, in := range inputs {
		var doc junitSuites
		if err := xml.NewDecoder(in).Decode(&doc); err != nil {
			return fmt.Errorf("input %d: not a JUnit testsuites document: %w", i+1, err)
		}
		for _, s := range doc.Suites {
			s.ID = len(all.Suites)
			all.Suites = append(all.Suites, s)
		}
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
