package reports

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

func TestClean(t *testing.T) {
	in := "\x1b[31mred\x1b[0m \x00nul\x07bell \x1b]0;title\x07 tab\tok\n\uFFFE"
	got := Clean(in)
	if strings.ContainsAny(got, "\x1b\x00\x07\uFFFE") || !strings.Contains(got, "red nulbell") || !strings.Contains(got, "tab\tok\n") {
		t.Errorf("Clean(%q) = %q", in, got)
	}
}

// hostile is an outcome whose names, messages and evidence carry what XML
// and terminals choke on.
func hostile() []scenario.Outcome {
	nasty := "a <b> & \"c\" 'd' ]]> \x1b[1mbold\x1b[0m \x00\x01\x1f ünïcødé 🚀\n second line"
	return []scenario.Outcome{
		{Scenario: "nasty " + nasty, Status: scenario.Fail, Step: "check x", Message: nasty, Duration: 1500 * time.Millisecond,
			Checks: []scenario.CheckOutcome{
				{Name: "check " + nasty, Status: scenario.Fail, Message: nasty, Evidence: nasty, Duration: time.Millisecond},
				{Name: "  spaced   name  ", Status: scenario.Pass, Evidence: "ok"},
				{Name: "skipped # hash", Status: scenario.Skip, Message: "reason # with hash"},
			},
			State: nasty, Attachments: []string{"/tmp/x.pcapng"}},
		{Scenario: "setup-fails", Status: scenario.Fail, Step: "build: create links", Message: "boom"},
		{Scenario: "interrupted", Status: scenario.Interrupted, Step: "not started", Message: "interrupted before it started"},
		{Scenario: "timeout", Status: scenario.Fail, Step: "check waits", Message: "timed out after 1s in step check waits",
			Checks: []scenario.CheckOutcome{{Name: "waits", Status: scenario.Fail, Message: "cancelled"}}},
	}
}

func TestJUnitOfHostileText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, hostile(), nil, Meta{Kernel: "6.x", Version: "test", Hostname: "h", Start: time.Now()}, JUnitOptions{}); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("not well-formed: %v\n%s", err, b.String())
	}
	if strings.Contains(b.String(), "\x1b") {
		t.Error("ANSI escapes in the report")
	}
	s := doc.Suites[0]
	if s.Tests != 3 || s.Failures != 1 || s.Skipped != 1 || !strings.Contains(s.Cases[0].SystemOut, "[[ATTACHMENT|/tmp/x.pcapng]]") {
		t.Errorf("suite 0 = %+v", s)
	}
	if got := doc.Suites[1].Cases[0]; got.Name != "setup" || got.Failure == nil || got.Failure.Type != "SetupFailed" {
		t.Errorf("setup failure case = %+v", got)
	}
	if got := doc.Suites[2].Cases[0]; got.Error == nil || got.Error.Type != "Interrupted" {
		t.Errorf("interrupted case = %+v", got)
	}
	last := doc.Suites[3].Cases
	if got := last[len(last)-1]; got.Failure == nil || got.Failure.Type != "Timeout" {
		t.Errorf("timeout case = %+v", last)
	}
	// Both schemas, when this clone has them and xmllint is installed.
	dir, _ := filepath.Abs("../../shared/schemas")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("schemas not found at %s (../shared is absent)", dir)
	}
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint not installed")
	}
	f := filepath.Join(t.TempDir(), "r.xml")
	os.WriteFile(f, b.Bytes(), 0o644)
	if out, err := exec.Command("xmllint", "--noout", "--schema", filepath.Join(dir, "jenkins-junit-10.xsd"), f).CombinedOutput(); err != nil {
		t.Errorf("jenkins: %v\n%s", err, out)
	}
	// The strict form satisfies both schemas.
	var strict bytes.Buffer
	WriteJUnit(&strict, hostile(), nil, Meta{Kernel: "6.x", Version: "test", Hostname: "h", Start: time.Now()}, JUnitOptions{Strict: true})
	os.WriteFile(f, strict.Bytes(), 0o644)
	for _, xsd := range []string{"jenkins-junit-10.xsd", "windyroad-JUnit.xsd"} {
		if out, err := exec.Command("xmllint", "--noout", "--schema", filepath.Join(dir, xsd), f).CombinedOutput(); err != nil {
			t.Errorf("strict form, %s: %v\n%s", xsd, err, out)
		}
	}
}

func TestKTAPOfHostileText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteKTAP(&b, hostile()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		trim := strings.TrimLeft(line, " ")
		ok := strings.HasPrefix(trim, "KTAP version 1") || strings.HasPrefix(trim, "1..") || strings.HasPrefix(trim, "#") ||
			strings.HasPrefix(trim, "ok ") || strings.HasPrefix(trim, "not ok ")
		if !ok {
			t.Errorf("line is not KTAP: %q", line)
		}
	}
	if !strings.Contains(out, "    ok 3 skipped  hash # SKIP reason  with hash") && !strings.Contains(out, "# SKIP reason") {
		t.Errorf("skip directive missing:\n%s", out)
	}
	if !strings.Contains(out, "not ok 3 interrupted # ERROR interrupted before it started") {
		t.Errorf("interrupted line missing:\n%s", out)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.xml")
	os.WriteFile(p, []byte("old"), 0o644)
	err := WriteFileAtomic(p, func(w io.Writer) error {
		w.Write([]byte("half"))
		return errors.New("interrupted")
	})
	if err == nil {
		t.Fatal("error lost")
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("a failed write replaced the report: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

func TestMergeJUnit(t *testing.T) {
	var a, b, m bytes.Buffer
	WriteJUnit(&a, hostile()[:2], nil, Meta{Start: time.Now()}, JUnitOptions{})
	WriteJUnit(&b, hostile()[2:], nil, Meta{Start: time.Now()}, JUnitOptions{})
	if err := MergeJUnit(&m, &a, &b); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(m.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for i, s := range doc.Suites {
		if s.ID != i {
			t.Errorf("suite %d has id %d", i, s.ID)
		}
	}
	if len(doc.Suites) != 4 {
		t.Errorf("%d suites", len(doc.Suites))
	}
	if err := MergeJUnit(&m, strings.NewReader("not xml")); err == nil {
		t.Error("garbage merged")
	}
}

func TestDiff(t *testing.T) {
	mk := func(st map[string]scenario.Status) *bytes.Buffer {
		var outs []scenario.Outcome
		var specs []*scenario.Spec
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			specs = append(specs, scenario.Define(name, "").Check("check", nil))
			s, ok := st[name]
			if !ok {
				continue
			}
			o := scenario.Outcome{Scenario: name, Status: s, Checks: []scenario.CheckOutcome{{Name: "check", Status: s, Message: "m"}}}
			if s == scenario.Skip {
				o.Checks, o.Message = nil, "no netem"
			}
			outs = append(outs, o)
		}
		var b bytes.Buffer
		WriteJUnit(&b, outs, Plan(specs), Meta{Start: time.Now()}, JUnitOptions{})
		return &b
	}
	old := mk(map[string]scenario.Status{"a": scenario.Pass, "b": scenario.Fail, "c": scenario.Pass, "d": scenario.Skip, "e": scenario.Pass})
	cur := mk(map[string]scenario.Status{"a": scenario.Fail, "b": scenario.Pass, "c": scenario.Skip, "d": scenario.Pass, "e": scenario.Pass})
	changes, err := Diff(old, cur)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.Scenario+":"+c.Kind())
	}
	want := "a:REGRESSION b:fixed c:run→skip d:skip→run"
	if strings.Join(got, " ") != want {
		t.Errorf("changes %v, want %s", got, want)
	}
}

func TestDiffTellsFlakesFromRegressions(t *testing.T) {
	mk := func(runs ...scenario.Status) *bytes.Buffer {
		var outs []scenario.Outcome
		for _, st := range runs {
			outs = append(outs, scenario.Outcome{Scenario: "nat", Status: st,
				Checks: []scenario.CheckOutcome{{Name: "reach", Status: st, Message: "m"}, {Name: "steady", Status: scenario.Pass}}})
		}
		var b bytes.Buffer
		WriteJUnit(&b, outs, nil, Meta{Start: time.Now()}, JUnitOptions{})
		return &b
	}
	pass3 := mk(scenario.Pass, scenario.Pass, scenario.Pass).Bytes()
	for _, tc := range []struct {
		new  []scenario.Status
		kind string
		show string
	}{
		{[]scenario.Status{scenario.Pass, scenario.Fail, scenario.Pass}, "FLAKY", "PASS (3/3 passed) → FLAKY (2/3 passed)"},
		{[]scenario.Status{scenario.Fail, scenario.Fail, scenario.Fail}, "REGRESSION", "PASS (3/3 passed) → FAIL (0/3 passed)"},
	} {
		changes, err := Diff(bytes.NewReader(pass3), mk(tc.new...))
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 1 || changes[0].Check != "reach" || changes[0].Kind() != tc.kind || changes[0].Regression() != (tc.kind == "REGRESSION") {
			t.Fatalf("%v: changes %+v, want one %s", tc.new, changes, tc.kind)
		}
		var text, md bytes.Buffer
		WriteDiff(&text, changes)
		WriteDiffMarkdown(&md, changes)
		if !strings.Contains(text.String(), tc.show) {
			t.Errorf("text diff lacks %q:\n%s", tc.show, text.String())
		}
		wantRow := "| **" + tc.kind + "** | nat | reach | " + strings.ReplaceAll(tc.show, " → ", " | ") + " |"
		if !strings.Contains(md.String(), "| change | scenario | check | old | new |\n|---|---|---|---|---|\n"+wantRow+"\n") {
			t.Errorf("Markdown lacks the row %q:\n%s", wantRow, md.String())
		}
	}
}
