package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// bigScenario is one scenario run with checks checks, each with about 1 KiB
// of evidence; every 100th fails.
func bigScenario(name string, checks int) scenario.Outcome {
	o := scenario.Outcome{Scenario: name, Status: scenario.Pass, Duration: time.Second}
	evidence := strings.Repeat("ping 10.0.0.2 from h1: 1 sent, 1 received <&> ", 20)
	for i := range checks {
		c := scenario.CheckOutcome{Name: fmt.Sprintf("h1 reaches h%d", i+2), Status: scenario.Pass, Evidence: evidence, Duration: time.Millisecond}
		if i%100 == 99 {
			c.Status, c.Message = scenario.Fail, fmt.Sprintf("h%d is not reachable", i+2)
			o.Status, o.Step, o.Message = scenario.Fail, "check "+c.Name, c.Message
		}
		o.Checks = append(o.Checks, c)
	}
	return o
}

func TestJUnitFileStreamsTheSameReport(t *testing.T) {
	for _, opt := range []JUnitOptions{{}, {Strict: true}, {Source: true}} {
		outcomes := append(hostile(), bigScenario("star", 1000), bigScenario("star", 10), hostile()[0])
		m := Meta{Kernel: "6.x", Version: "test", Hostname: "h", Start: time.Now()}
		var want bytes.Buffer
		if err := WriteJUnit(&want, outcomes, nil, m, opt); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "junit.xml")
		j := &JUnitFile{Path: path, Meta: m, Options: opt}
		for i, o := range outcomes {
			before, _ := os.ReadFile(path)
			j.Done(o)
			// After each scenario the file is a whole report of those so
			// far, or (once over 1 MiB, until it has grown by a quarter)
			// still the one before.
			var sofar bytes.Buffer
			WriteJUnit(&sofar, outcomes[:i+1], nil, m, opt)
			got, _ := os.ReadFile(path)
			if !bytes.Equal(got, sofar.Bytes()) && (len(before) < rewriteAlways || !bytes.Equal(got, before)) {
				t.Fatalf("%+v: report after scenario %d differs from WriteJUnit's", opt, i+1)
			}
		}
		if err := j.Finish(Summarize(outcomes, time.Second)); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%+v: final report differs from WriteJUnit's", opt)
		}
	}
	// Finish without Done: a run of no scenarios is an empty report.
	path := filepath.Join(t.TempDir(), "junit.xml")
	if err := (&JUnitFile{Path: path}).Finish(Summary{}); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	WriteJUnit(&want, nil, nil, Meta{}, JUnitOptions{})
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("report of Finish alone differs from WriteJUnit's")
	}
}

// TestReportsHoldOneScenario feeds 12 scenarios of 1000 checks (≈1 MiB of
// evidence each) to the JUnit, JSON and KTAP reporters and checks that the
// heap does not grow with them: each scenario is written and dropped.
func TestReportsHoldOneScenario(t *testing.T) {
	dir := t.TempDir()
	jf, err := os.Create(filepath.Join(dir, "events.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	kf, err := os.Create(filepath.Join(dir, "run.ktap"))
	if err != nil {
		t.Fatal(err)
	}
	defer kf.Close()
	rep := Multi{&JUnitFile{Path: filepath.Join(dir, "junit.xml")}, JSONLines{W: jf}, NewKTAP(kf, 12)}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	const scenarios = 12
	var before uint64
	for i := range scenarios {
		o := bigScenario(fmt.Sprintf("star%d", i), 1000)
		rep.Start(o.Scenario)
		for _, c := range o.Checks {
			rep.Check(o.Scenario, c)
		}
		rep.Done(o)
		if i == 0 {
			before = heap()
		}
	}
	grown := int64(heap()) - int64(before)
	if grown > 4<<20 {
		t.Errorf("heap grew by %d MiB over %d scenarios of 1000 checks (≈1 MiB each): the reporters hold them", grown>>20, scenarios)
	}
	info, err := os.Stat(filepath.Join(dir, "junit.xml"))
	if err != nil || info.Size() < scenarios<<20 {
		t.Fatalf("JUnit report %v, %v: want every scenario in it", info, err)
	}
	t.Logf("heap grew %d KiB; JUnit %d MiB", grown>>10, info.Size()>>20)
}

// TestConsoleAtScale: a scenario of 1000 checks is one line with the counts
// and every failure in full (message and evidence), not 1000 lines of
// passes.
func TestConsoleAtScale(t *testing.T) {
	var b bytes.Buffer
	c := &Console{W: &b}
	c.Done(bigScenario("star", 1000))
	out := b.String()
	if !strings.HasPrefix(out, "FAIL star (1.000s), 1000 checks: 990 passed, 10 failed\n") {
		t.Errorf("scenario line:\n%s", strings.SplitN(out, "\n", 2)[0])
	}
	if n := strings.Count(out, "is not reachable"); n != 10 {
		t.Errorf("%d failures shown, want all 10", n)
	}
	if n := strings.Count(out, "ping 10.0.0.2 from h1"); n != 10*20 {
		t.Errorf("evidence of the failures shown %d times, want 10 (20 pings each)", n/20)
	}
	if strings.Contains(out, "PASS") || strings.Count(out, "\n") > 1+10*3+1 {
		t.Errorf("passes listed:\n%s", out)
	}
}

// TestKTAPStreams: the plan is written before any scenario, each scenario
// run's test as it finishes, and the totals at the end; the stream is
// byte for byte what WriteKTAP writes of the whole run, also when another
// process continues it after a crash (ResumeKTAP).
func TestKTAPStreams(t *testing.T) {
	outcomes, _ := rulesRun()
	outcomes = append(outcomes, hostile()...)
	var want bytes.Buffer
	if err := WriteKTAP(&want, outcomes); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	k := NewKTAP(&b, len(outcomes))
	if got := b.String(); got != fmt.Sprintf("KTAP version 1\n1..%d\n", len(outcomes)) {
		t.Fatalf("before any scenario: %q", got)
	}
	for i, o := range outcomes {
		k.Done(o)
		line := fmt.Sprintf("ok %d ", i+1)
		if o.Status != scenario.Pass && o.Status != scenario.Skip {
			line = "not " + line
		}
		if !strings.HasPrefix(lastLine(b.String()), line) {
			t.Fatalf("after scenario %d the stream ends with %q, want %q…", i+1, lastLine(b.String()), line)
		}
	}
	if err := k.Finish(Summarize(outcomes, time.Second)); err != nil {
		t.Fatal(err)
	}
	if b.String() != want.String() {
		t.Errorf("streamed KTAP differs from WriteKTAP's:\n%s\nwant:\n%s", b.String(), want.String())
	}
	// Cut after each scenario and continued by another writer.
	for cut := range outcomes {
		var b bytes.Buffer
		k := NewKTAP(&b, len(outcomes))
		var written []string
		for _, o := range outcomes[:cut] {
			k.Done(o)
			written = append(written, o.Scenario)
		}
		r := ResumeKTAP(&b, written)
		for _, o := range outcomes[cut:] {
			r.Done(o)
		}
		r.Finish(Summarize(outcomes, 0))
		if b.String() != want.String() {
			t.Errorf("KTAP continued after %d scenarios differs from WriteKTAP's:\n%s", cut, b.String())
		}
	}
}

func lastLine(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return s[strings.LastIndex(s, "\n")+1:]
}

// TestJSONStreams: every event is written when it happens.
func TestJSONStreams(t *testing.T) {
	var b bytes.Buffer
	j := JSONLines{W: &b}
	o := bigScenario("star", 3)
	lines := func() int { return strings.Count(b.String(), "\n") }
	j.Start(o.Scenario)
	if lines() != 1 {
		t.Fatalf("start: %d lines", lines())
	}
	for i, c := range o.Checks {
		j.Check(o.Scenario, c)
		if lines() != 2+i || !strings.Contains(lastLine(b.String()), c.Name) {
			t.Fatalf("check %d not written at once: %q", i, lastLine(b.String()))
		}
	}
	j.Done(o)
	if !strings.Contains(lastLine(b.String()), `"action":"done"`) {
		t.Fatalf("done not written at once: %q", lastLine(b.String()))
	}
	j.Finish(Summarize([]scenario.Outcome{o}, time.Second))
	if !strings.Contains(lastLine(b.String()), `"counts":{"PASS":1}`) {
		t.Errorf("summary: %q", lastLine(b.String()))
	}
}

// TestSummary: counts per status, and each run that did not pass with the
// first line of why and its failed checks, without evidence.
func TestSummary(t *testing.T) {
	outcomes, _ := rulesRun()
	outcomes = append(outcomes, bigScenario("star", 1000))
	s := Summarize(outcomes, time.Second)
	if s.Runs() != 6 || s.Counts[scenario.Pass] != 1 || s.Counts[scenario.Fail] != 4 || s.Counts[scenario.Skip] != 1 || s.Crashed != 1 {
		t.Errorf("summary %+v", s)
	}
	if len(s.Failed) != 4 {
		t.Fatalf("failed %+v", s.Failed)
	}
	if f := s.Failed[0]; f.Scenario != "ipv4.nat" || f.Run != 2 || f.Message != "not masqueraded" || len(f.Checks) != 1 || f.Checks[0] != "masqueraded: not masqueraded" {
		t.Errorf("failed[0] = %+v", f)
	}
	star := s.Failed[3]
	if star.Failed != 10 || len(star.Checks) != 10 || star.Checks[0] != "h1 reaches h101: h101 is not reachable" {
		t.Errorf("star: %d failed checks, first %q", len(star.Checks), star.Checks[0])
	}
	// A run of many failed checks names the first ten.
	many := Summarize([]scenario.Outcome{bigScenario("big", 5000)}, 0).Failed[0]
	if many.Failed != 50 || len(many.Checks) != 10 {
		t.Errorf("5000 checks, 50 failed: Failed %d, %d named", many.Failed, len(many.Checks))
	}
	for _, f := range s.Failed {
		for _, c := range append(f.Checks, f.Message) {
			if strings.Contains(c, "\n") || strings.Contains(c, "ping 10.0.0.2") {
				t.Errorf("%s: summary line %q holds more than the first line of the message", f.Scenario, c)
			}
		}
	}
}

// TestConsoleRecap: a run's summary lists the runs that did not pass, one
// line each and at most 20, before the totals.
func TestConsoleRecap(t *testing.T) {
	var outcomes []scenario.Outcome
	for i := range 25 {
		outcomes = append(outcomes, bigScenario(fmt.Sprintf("s%02d", i), 200))
	}
	outcomes = append(outcomes, scenario.Outcome{Scenario: "fine", Status: scenario.Pass})
	var b bytes.Buffer
	(&Console{W: &b}).Summary(Summarize(outcomes, time.Second))
	out := b.String()
	for _, want := range []string{"\nnot passed:\nFAIL s00: h201 is not reachable (2 checks failed)\n", "FAIL s19: ", "     … and 5 more\n",
		"\n26 scenarios: 1 passed, 25 failed, 0 skipped, 0 interrupted in 1.000s\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s20") || strings.Contains(out, "fine") {
		t.Errorf("summary lists more than 20 runs, or a passed one:\n%s", out)
	}
	// One scenario: its failure was just printed in full, no recap.
	b.Reset()
	(&Console{W: &b}).Summary(Summarize(outcomes[:1], time.Second))
	if strings.Contains(b.String(), "not passed") {
		t.Errorf("recap of a single run:\n%s", b.String())
	}
}

// encodeJUnit encodes a whole document at once: the layout the streamed
// reports must match byte for byte.
func encodeJUnit(w io.Writer, doc junitSuites) error {
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

// TestJUnitStreamIsTheWholeDocument: WriteJUnit, which writes one
// testsuite at a time, writes the bytes xml.Encoder gives the whole
// document, also for no testsuites.
func TestJUnitStreamIsTheWholeDocument(t *testing.T) {
	rules, plans := rulesRun()
	m := Meta{Kernel: "6.x", Version: "test", Hostname: "h", Start: time.Now()}
	for _, outcomes := range [][]scenario.Outcome{nil, hostile(), rules, {bigScenario("star", 300), stepped()}} {
		for _, opt := range []JUnitOptions{{}, {Strict: true}} {
			var doc junitSuites
			runs := runNumbers(outcomes)
			for i, o := range outcomes {
				doc.Suites = append(doc.Suites, junitSuiteOf(o, i, runs[i], byName(plans)[o.Scenario], m, opt))
			}
			var whole, streamed bytes.Buffer
			if err := encodeJUnit(&whole, doc); err != nil {
				t.Fatal(err)
			}
			if err := WriteJUnit(&streamed, outcomes, plans, m, opt); err != nil {
				t.Fatal(err)
			}
			if whole.String() != streamed.String() {
				t.Errorf("%d outcomes %+v: streamed JUnit differs from the whole document:\n%s\nwant:\n%s", len(outcomes), opt, streamed.String(), whole.String())
			}
		}
	}
}

// heapWriter discards what is written and records the most heap in use
// after a collection, measured at every write.
type heapWriter struct{ max uint64 }

func (h *heapWriter) Write(p []byte) (int, error) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.max = max(h.max, m.HeapInuse)
	return len(p), nil
}

// TestMergeStreams merges three reports of 8 scenarios of 1000 checks
// (≈10 MiB each) and checks that the heap never holds more than a few
// testsuites: each is read, renamed, written and dropped.
func TestMergeStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shard.xml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []scenario.Outcome
	for i := range 8 {
		outcomes = append(outcomes, bigScenario(fmt.Sprintf("star%d", i), 1000))
	}
	if err := WriteJUnit(f, outcomes, nil, Meta{Start: time.Now()}, JUnitOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	outcomes = nil
	info, _ := os.Stat(path)
	var ins []io.Reader
	for range 3 {
		in, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		ins = append(ins, in)
	}
	base := (&heapWriter{}).measure()
	h := &heapWriter{}
	if err := MergeJUnit(h, ins...); err != nil {
		t.Fatal(err)
	}
	grown := int64(h.max) - int64(base)
	t.Logf("inputs 3 × %d MiB; heap in use at most %d MiB above the start", info.Size()>>20, grown>>20)
	if grown > 3*info.Size()/8+(4<<20) {
		t.Errorf("merging 3 reports of %d MiB held %d MiB: more than a testsuite at a time", info.Size()>>20, grown>>20)
	}
}

func (h *heapWriter) measure() uint64 {
	h.Write(nil)
	return h.max
}

// TestJUnitFileWritesInLinearTime: over 40 scenarios of 1000 checks the
// report is rewritten often, yet the bytes written stay within six times
// its final size (rewriting it after every scenario writes 20 times it).
// The bound: 1/(1-0.8) for growth by quarters, and the small start.
func TestJUnitFileWritesInLinearTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junit.xml")
	var writes int
	var written int64
	j := &JUnitFile{Path: path, Written: func() error {
		info, err := os.Stat(path)
		if err == nil {
			writes++
			written += info.Size()
		}
		return err
	}}
	const scenarios = 40
	for i := range scenarios {
		j.Done(bigScenario(fmt.Sprintf("star%d", i), 1000))
	}
	if err := j.Finish(Summary{}); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(path)
	t.Logf("%d writes, %d MiB written for a report of %d MiB", writes, written>>20, info.Size()>>20)
	if written > 6*info.Size() || writes < 10 {
		t.Errorf("%d writes of %d MiB in all for a report of %d MiB: want at least 10, and at most 6 times the report", writes, written>>20, info.Size()>>20)
	}
}

// TestSummaryStaysSmall: a run of 1000 failed scenarios lists the first
// MaxFailed of them, counts the rest in Omitted and every status in Counts,
// and the console's recap says how many more failed (Omitted included).
// Listing every failed run fails it: len(Failed) would be 1000.
func TestSummaryStaysSmall(t *testing.T) {
	var s Summary
	for i := range 1000 {
		s.Add(scenario.Outcome{Scenario: fmt.Sprintf("s%04d", i), Status: scenario.Fail, Message: "no reply",
			Checks: []scenario.CheckOutcome{{Name: "reach", Status: scenario.Fail, Message: "no reply"}}})
	}
	s.Add(scenario.Outcome{Scenario: "fine", Status: scenario.Pass})
	if len(s.Failed) != MaxFailed || s.Omitted != 1000-MaxFailed {
		t.Fatalf("1000 failed runs: Failed lists %d, Omitted %d; want %d and %d", len(s.Failed), s.Omitted, MaxFailed, 1000-MaxFailed)
	}
	if s.Failed[0].Scenario != "s0000" || s.Failed[MaxFailed-1].Scenario != fmt.Sprintf("s%04d", MaxFailed-1) {
		t.Errorf("Failed is not the first %d failed runs: first %q, last %q", MaxFailed, s.Failed[0].Scenario, s.Failed[MaxFailed-1].Scenario)
	}
	if s.Runs() != 1001 || s.Counts[scenario.Fail] != 1000 || s.Counts[scenario.Pass] != 1 {
		t.Errorf("counts %v, %d runs", s.Counts, s.Runs())
	}
	var b bytes.Buffer
	(&Console{W: &b}).Summary(s)
	out := b.String()
	for _, want := range []string{"FAIL s0019: no reply\n     … and 980 more\n", "\n1001 scenarios: 1 passed, 1000 failed, "} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
