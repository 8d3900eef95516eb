package reports

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// parsedCase is a testcase as an independent parser (Debian's
// python3-junitparser) reads it.
type parsedCase struct {
	Suite, Name, Classname string
	Result                 string // "failure", "error", "skipped" or ""
	Message, Text          string
	SystemOut              string `json:"system_out"`
	File                   string
	Line                   string
}

const junitparserScript = `
import json, sys
from junitparser import JUnitXml
out = []
for suite in JUnitXml.fromfile(sys.argv[1]):
    for case in suite:
        r = case.result[0] if case.result else None
        out.append(dict(suite=suite.name, name=case.name, classname=case.classname,
            result=r._tag if r is not None else "", message=(r.message or "") if r is not None else "",
            text=(r.text or "") if r is not None else "", system_out=case.system_out or "",
            file=case._elem.get("file", ""), line=case._elem.get("line", "")))
json.dump(out, sys.stdout)
`

// parseIndependently reads a JUnit report with python3-junitparser
// (installed by make deps), so the rules are checked by a parser vtest did
// not write.
func parseIndependently(t *testing.T, report []byte) []parsedCase {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import junitparser").Run(); err != nil {
		t.Skip("python3-junitparser is not installed (make deps installs it)")
	}
	f := filepath.Join(t.TempDir(), "r.xml")
	if err := os.WriteFile(f, report, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", junitparserScript, f).Output()
	if err != nil {
		t.Fatalf("junitparser: %v\n%s", err, report)
	}
	var cases []parsedCase
	if err := json.Unmarshal(out, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func find(t *testing.T, cases []parsedCase, name string) parsedCase {
	t.Helper()
	for _, c := range cases {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no testcase %q in %+v", name, cases)
	return parsedCase{}
}

// rulesRun is a run with every shape the JUnit rules cover: a scenario
// with a dot in its name run twice (once failing, with captures and a
// state dump), a skipped one, one running when the suite crashed, and one
// that timed out.
func rulesRun() ([]scenario.Outcome, []Planned) {
	spec := scenario.Define("ipv4.nat", "NAT").
		Check("reach", nil).
		Check("masqueraded", nil)
	skipped := scenario.Define("vlan", "802.1q").Check("tagged", nil)
	failing := scenario.Outcome{Scenario: "ipv4.nat", Status: scenario.Fail, Step: "check masqueraded", Message: "not masqueraded\nsecond line",
		Checks: []scenario.CheckOutcome{
			{Name: "reach", Status: scenario.Pass, Evidence: "64 bytes from 10.0.0.2"},
			{Name: "masqueraded", Status: scenario.Fail, Message: "not masqueraded\nsecond line", Evidence: "source 10.0.1.1 seen"},
		},
		State:       "client: eth0 10.0.1.1/24",
		Attachments: []string{"caps/nat-1.pcapng", "/elsewhere/nat-1.pcapng"},
	}
	passing := scenario.Outcome{Scenario: "ipv4.nat", Status: scenario.Pass,
		Checks: []scenario.CheckOutcome{{Name: "reach", Status: scenario.Pass, Evidence: "64 bytes"}, {Name: "masqueraded", Status: scenario.Pass, Evidence: "source 10.0.2.1"}}}
	outcomes := []scenario.Outcome{
		passing, failing,
		{Scenario: "vlan", Status: scenario.Skip, Step: "probe", Message: "vlan: not supported by this kernel"},
		{Scenario: "crashy", Status: scenario.Fail, Step: StepCrash, Message: "the suite process died while this scenario ran:\npanic: assignment to entry in nil map\n\ngoroutine 7 [running]:",
			Checks: []scenario.CheckOutcome{{Name: "first", Status: scenario.Pass, Evidence: "ok"}}},
		{Scenario: "slow", Status: scenario.Fail, Step: "check waits", Message: "timed out after 1s in step check waits",
			Checks: []scenario.CheckOutcome{{Name: "waits", Status: scenario.Fail, Message: "context deadline exceeded"}}},
	}
	return outcomes, Plan([]*scenario.Spec{spec, skipped})
}

func TestJUnitRulesThroughAnIndependentParser(t *testing.T) {
	outcomes, plans := rulesRun()
	var b bytes.Buffer
	if err := WriteJUnit(&b, outcomes, plans, Meta{Start: time.Now(), Hostname: "h"}, JUnitOptions{}); err != nil {
		t.Fatal(err)
	}
	cases := parseIndependently(t, b.Bytes())
	if len(cases) != 2+2+1+2+2 {
		t.Fatalf("%d testcases: %+v", len(cases), cases)
	}
	// Repeated runs get distinct names; classnames do not split at the
	// scenario's dot.
	seen := map[string]bool{}
	for _, c := range cases {
		k := c.Classname + "/" + c.Name
		if seen[k] {
			t.Errorf("testcase %s repeats", k)
		}
		seen[k] = true
		if strings.Count(c.Classname, ".") != 1 {
			t.Errorf("classname %q would be split by Jenkins", c.Classname)
		}
	}
	pass := find(t, cases, "reach")
	if pass.Classname != "vtest.ipv4_nat" || pass.Result != "" || pass.SystemOut != "64 bytes" || pass.Suite != "ipv4.nat" {
		t.Errorf("first run's passing case = %+v", pass)
	}
	// Per-testcase evidence, message = first line, body = everything.
	fail := find(t, cases, "masqueraded (run 2)")
	if fail.Suite != "ipv4.nat (run 2)" || fail.Result != "failure" || fail.Message != "not masqueraded" ||
		!strings.Contains(fail.Text, "not masqueraded\nsecond line") || !strings.Contains(fail.Text, "evidence:\nsource 10.0.1.1 seen") {
		t.Errorf("failed case = %+v", fail)
	}
	// Attachments and the node state in the failed testcase's system-out,
	// relative to the working directory when inside it.
	for _, want := range []string{"source 10.0.1.1 seen", "node state at failure:\nclient: eth0", "\n[[ATTACHMENT|caps/nat-1.pcapng]]\n", "\n[[ATTACHMENT|/elsewhere/nat-1.pcapng]]"} {
		if !strings.Contains(fail.SystemOut, want) {
			t.Errorf("failed case's system-out lacks %q:\n%s", want, fail.SystemOut)
		}
	}
	if p := find(t, cases, "reach (run 2)"); strings.Contains(p.SystemOut, "ATTACHMENT") || p.Result != "" {
		t.Errorf("passing case of a failed run = %+v", p)
	}
	if s := find(t, cases, "tagged"); s.Result != "skipped" || s.Message != "vlan: not supported by this kernel" {
		t.Errorf("skipped case = %+v", s)
	}
	crash := find(t, cases, "crash")
	if crash.Result != "error" || crash.Message != "the suite process died while this scenario ran:" || !strings.Contains(crash.Text, "panic: assignment to entry in nil map") {
		t.Errorf("crash case = %+v", crash)
	}
	if tm := find(t, cases, "check waits"); tm.Result != "failure" || !strings.HasPrefix(tm.Message, "timed out") {
		t.Errorf("timeout case = %+v", tm)
	}
	if pass.File != "" || pass.Line != "" {
		t.Errorf("file/line without -junit-source: %+v", pass)
	}
}

func TestJUnitSourceAttributes(t *testing.T) {
	outcomes, plans := rulesRun()
	var b bytes.Buffer
	WriteJUnit(&b, outcomes, plans, Meta{Start: time.Now()}, JUnitOptions{Source: true})
	cases := parseIndependently(t, b.Bytes())
	// The checks were declared in this file (rulesRun), which lies in the
	// working directory of the test.
	for _, name := range []string{"reach", "masqueraded (run 2)", "tagged"} {
		c := find(t, cases, name)
		if c.File != "junit_test.go" || c.Line == "" || c.Line == "0" {
			t.Errorf("%s: file=%q line=%q, want junit_test.go and a line", name, c.File, c.Line)
		}
	}
}

func TestMergeKeepsRepeatedRunsDistinct(t *testing.T) {
	outcomes, plans := rulesRun()
	var a, m bytes.Buffer
	WriteJUnit(&a, outcomes, plans, Meta{Start: time.Now()}, JUnitOptions{})
	if err := MergeJUnit(&m, bytes.NewReader(a.Bytes()), bytes.NewReader(a.Bytes())); err != nil {
		t.Fatal(err)
	}
	cases := parseIndependently(t, m.Bytes())
	seen := map[string]bool{}
	for _, c := range cases {
		k := c.Classname + "/" + c.Name
		if seen[k] {
			t.Errorf("testcase %s repeats after merge", k)
		}
		seen[k] = true
	}
	for _, name := range []string{"reach", "reach (run 2)", "reach (run 3)", "reach (run 4)"} {
		find(t, cases, name)
	}
	if c := find(t, cases, "masqueraded (run 4)"); c.Result != "failure" || c.Suite != "ipv4.nat (run 4)" {
		t.Errorf("4th run after merge = %+v", c)
	}
}

func TestKTAPRules(t *testing.T) {
	outcomes, _ := rulesRun()
	var b bytes.Buffer
	if err := WriteKTAP(&b, outcomes); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"KTAP version 1\n1..5\n  KTAP version 1\n  # Subtest: ipv4.nat\n  1..2\n  ok 1 reach\n  ok 2 masqueraded\nok 1 ipv4.nat\n",
		"  # Subtest: ipv4.nat (run 2)\n",
		"  # not masqueraded\n  # second line\n  not ok 2 masqueraded\n",
		"ok 3 vlan # SKIP vlan: not supported by this kernel\n",
		"not ok 4 crashy # ERROR the suite process died while this scenario ran:\n",
		"not ok 5 slow # TIMEOUT timed out after 1s in step check waits\n",
		"# Totals: pass:1 fail:2 xfail:0 xpass:0 skip:1 error:1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("KTAP lacks %q:\n%s", want, out)
		}
	}
	// Two spaces per level, nothing else.
	for _, l := range strings.Split(out, "\n") {
		if n := len(l) - len(strings.TrimLeft(l, " ")); n != 0 && n != 2 {
			t.Errorf("indentation %d: %q", n, l)
		}
	}
}

func TestRecordingRebuildsACrashedRun(t *testing.T) {
	outcomes, plans := rulesRun()
	var stream bytes.Buffer
	r, err := NewRecorder(&stream, plans, []string{"ipv4.nat", "ipv4.nat", "vlan", "later"}, Meta{Start: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	rep := Multi{r}
	rep.Start("ipv4.nat")
	for _, c := range outcomes[0].Checks {
		rep.Check("ipv4.nat", c)
	}
	rep.Done(outcomes[0])
	rep.Start("vlan")
	rep.Start("ipv4.nat")
	rep.Check("ipv4.nat", outcomes[1].Checks[0])
	rep.Done(outcomes[2])
	stream.WriteString(`{"kind":"check","scen`) // cut short by the crash
	rec, err := ReadRecording(&stream)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Planned() || rec.Ended {
		t.Fatalf("recording: %+v", rec)
	}
	fin, run, not := rec.Crashed("panic: boom")
	if len(fin) != 2 || fin[0].Status != scenario.Pass || fin[1].Status != scenario.Skip {
		t.Errorf("finished: %+v", fin)
	}
	if len(run) != 1 || run[0].Scenario != "ipv4.nat" || run[0].Step != StepCrash || len(run[0].Checks) != 1 ||
		!strings.Contains(run[0].Message, "panic: boom") {
		t.Errorf("running: %+v", run)
	}
	if len(not) != 1 || not[0].Scenario != "later" || not[0].Status != scenario.Interrupted {
		t.Errorf("not started: %+v", not)
	}
	r.Finish(Summary{})
	rec, _ = ReadRecording(bytes.NewReader(stream.Bytes()))
	if !rec.Ended {
		t.Error("end record not read")
	}
}

func TestKernelWarning(t *testing.T) {
	log := "[    1.000000] veth: something ordinary\n" +
		"[    2.000000] WARNING: CPU: 0 PID: 7 at net/core/dev.c:1 f+0x1/0x2\n" +
		"[    2.000001] Call Trace:\n"
	ex, ok := KernelWarning(log)
	if !ok || !strings.HasPrefix(ex, "[    2.000000] WARNING: CPU: 0") || !strings.Contains(ex, "Call Trace:") {
		t.Errorf("KernelWarning = %q, %v", ex, ok)
	}
	for _, quiet := range []string{"", "[ 1.0] bridge: port 1(eth0) entered forwarding state\n"} {
		if _, ok := KernelWarning(quiet); ok {
			t.Errorf("a warning in %q", quiet)
		}
	}
	for _, bad := range []string{"BUG: kernel NULL pointer dereference", "Oops: 0000 [#1] SMP", "RIP: 0010:f+0x1/0x2",
		"unregister_netdevice: waiting for veth0 to become free. Usage count = 2", "kmemleak: 1 new suspected memory leaks"} {
		if _, ok := KernelWarning(bad); !ok {
			t.Errorf("no warning in %q", bad)
		}
	}
	// In JUnit: a failed "kernel log" case with the excerpt, the whole log
	// in the suite's system-err.
	o := scenario.Outcome{Scenario: "k", Status: scenario.Fail, Step: "kernel", Message: "the kernel logged a warning while the scenario ran:\n" + ex,
		Checks: []scenario.CheckOutcome{{Name: "c", Status: scenario.Pass}}, KernelLog: log}
	var b bytes.Buffer
	WriteJUnit(&b, []scenario.Outcome{o}, nil, Meta{Start: time.Now()}, JUnitOptions{})
	c := find(t, parseIndependently(t, b.Bytes()), "kernel log")
	if c.Result != "failure" || c.Message != "[    2.000000] WARNING: CPU: 0 PID: 7 at net/core/dev.c:1 f+0x1/0x2" || !strings.Contains(c.Text, "Call Trace:") {
		t.Errorf("kernel log case = %+v", c)
	}
	if !strings.Contains(b.String(), "<system-err>[    1.000000] veth: something ordinary") {
		t.Errorf("kernel log not in system-err:\n%s", b.String())
	}
}
