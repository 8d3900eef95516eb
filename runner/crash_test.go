package runner

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/reports"
	"github.com/vtest-dev/vtest/scenario"
)

func TestCrashOutput(t *testing.T) {
	panicTail := "PASS good (0.1s)\n2026/12/02 log line\npanic: assignment to entry in nil map\n\ngoroutine 7 [running]:\nmain.f()\n\t/x.go:3 +0x1\n"
	for _, tc := range []struct {
		code       int
		tail       string
		want, lose string
	}{
		{2, panicTail, "exit status 2; its stderr ends with:\npanic: assignment to entry in nil map\n\ngoroutine 7 [running]:", "PASS good"},
		{2, "fatal error: concurrent map writes\n\ngoroutine 1", "fatal error: concurrent map writes", ""},
		{1, "2026/12/02 14:00:00 fatal: configuration is broken\n", "exit status 1; its stderr ends with:\n2026/12/02 14:00:00 fatal: configuration is broken", ""},
		{137, "", "killed by signal killed (it printed nothing on stderr)", ""},
		{3, "", "exit status 3 (it printed nothing on stderr)", ""},
	} {
		got := crashOutput(tc.code, tc.tail)
		if !strings.Contains(got, tc.want) || (tc.lose != "" && strings.Contains(got, tc.lose)) {
			t.Errorf("crashOutput(%d, %q) = %q, want it to contain %q", tc.code, tc.tail, got, tc.want)
		}
	}
	var w tailWriter
	w.max = 8
	w.Write([]byte("0123456789"))
	w.Write([]byte("ab"))
	if got := w.String(); got != "456789ab" {
		t.Errorf("tail = %q", got)
	}
}

// sampledFile is an event file whose reads measure the heap in use after
// a collection (every 16th read), to find the most a reader holds.
type sampledFile struct {
	*os.File
	reads int
	most  uint64
}

func (f *sampledFile) Read(p []byte) (int, error) {
	if f.reads++; f.reads%16 == 0 {
		f.most = max(f.most, heapInuse())
	}
	return f.File.Read(p)
}

// TestCrashReportsHoldOneScenario rebuilds the reports of a suite that died
// after 20 scenarios of 1000 checks with 2 KiB of evidence (80 MiB of
// events): the finished runs pass through one at a time, so the heap stays
// far below the recording's size; and the reports have every run: the
// finished ones, the one that was running (crashed) and the one never
// started.
func TestCrashReportsHoldOneScenario(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const big, checks = 20, 1000
	var runs []string
	for i := range big + 2 {
		runs = append(runs, fmt.Sprintf("s%02d", i))
	}
	rec, err := reports.NewRecorder(f, nil, runs, reports.Meta{Start: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range big + 1 {
		o := scenario.Outcome{Scenario: runs[i], Status: scenario.Pass}
		rec.Start(o.Scenario)
		for c := range checks {
			ch := scenario.CheckOutcome{Name: fmt.Sprintf("check %d", c), Status: scenario.Pass,
				Evidence: strings.Repeat(fmt.Sprintf("%s/%d 64 bytes from 10.0.0.2 ", o.Scenario, c), 2<<10/32)}
			rec.Check(o.Scenario, ch)
			if i < big {
				o.Checks = append(o.Checks, ch)
			}
		}
		if i < big { // the last one is running when the suite dies
			rec.Done(o)
		}
	}
	f.Close()
	info, _ := os.Stat(path)
	base := heapInuse()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	events := &sampledFile{File: in}
	junit, jsonl := filepath.Join(dir, "r.xml"), filepath.Join(dir, "e.jsonl")
	var stdout, stderr bytes.Buffer
	code, crashed := CrashReports([]string{"-junit", junit, "-json", jsonl, "-color", "never"}, events, "panic: boom", &stdout, &stderr)
	if code != ExitFail || !crashed {
		t.Fatalf("CrashReports = %d, %v; stderr:\n%s", code, crashed, stderr.String())
	}
	grown := int64(events.most) - int64(base)
	t.Logf("events %d MiB; heap in use at most %d MiB above the start", info.Size()>>20, grown>>20)
	if grown > 16<<20 {
		t.Errorf("rebuilding from %d MiB of events held %d MiB: the finished runs are kept", info.Size()>>20, grown>>20)
	}
	b, _ := os.ReadFile(junit)
	if n := bytes.Count(b, []byte("<testsuite ")); n != big+2 || !bytes.Contains(b, []byte(`type="Crash"`)) || !bytes.Contains(b, []byte(`type="Interrupted"`)) {
		t.Errorf("JUnit has %d testsuites, want %d with a crash and an interrupted one", n, big+2)
	}
	if !strings.Contains(stdout.String(), "22 scenarios: 20 passed, 1 failed, 0 skipped, 1 interrupted") {
		t.Errorf("console:\n%s", stdout.String())
	}
}
