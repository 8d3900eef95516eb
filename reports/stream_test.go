package reports

import (
	"bytes"
	"fmt"
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
			j.Done(o)
			// After each scenario the file is a whole report of those so far.
			var sofar bytes.Buffer
			WriteJUnit(&sofar, outcomes[:i+1], nil, m, opt)
			if got, _ := os.ReadFile(path); !bytes.Equal(got, sofar.Bytes()) {
				t.Fatalf("%+v: report after scenario %d differs from WriteJUnit's", opt, i+1)
			}
		}
		if err := j.Finish(outcomes, time.Second); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%+v: final report differs from WriteJUnit's", opt)
		}
	}
	// Finish without Done (a caller that only has the outcomes).
	path := filepath.Join(t.TempDir(), "junit.xml")
	outcomes := hostile()
	if err := (&JUnitFile{Path: path}).Finish(outcomes, time.Second); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	WriteJUnit(&want, outcomes, nil, Meta{}, JUnitOptions{})
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("report of Finish alone differs from WriteJUnit's")
	}
}

// TestReportsHoldOneScenario feeds 12 scenarios of 1000 checks (≈1 MiB of
// evidence each) to the JUnit and JSON reporters and checks that the heap
// does not grow with them: each scenario is written and dropped.
func TestReportsHoldOneScenario(t *testing.T) {
	dir := t.TempDir()
	jf, err := os.Create(filepath.Join(dir, "events.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	rep := Multi{&JUnitFile{Path: filepath.Join(dir, "junit.xml")}, JSONLines{W: jf}}
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
// and every failure in full, not 1000 lines of passes.
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
	if strings.Contains(out, "PASS") || strings.Count(out, "\n") > 1+10*2+1 {
		t.Errorf("passes listed:\n%s", out)
	}
}
