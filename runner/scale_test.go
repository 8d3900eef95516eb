package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// heapInuse is the heap in use after a collection.
func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// bigRun returns scenarios of one host each: big of them with checks
// checks returning evidence bytes of evidence each (every 250th fails),
// then one small one. The first check of every scenario records the heap
// in use in heap[i] before anything of scenario i exists, i.e. with i
// scenarios finished (the run must be sequential).
func bigRun(big, checks, evidence int, heap []uint64) []*scenario.Spec {
	var specs []*scenario.Spec
	for i := range big + 1 {
		s := scenario.Define(fmt.Sprintf("big%02d", i), "many checks with large evidence")
		s.Host("a")
		s.Check("heap", func(context.Context, *scenario.Network) scenario.Result {
			heap[i] = heapInuse()
			return scenario.Result{Evidence: fmt.Sprintf("heap in use %d KiB", heap[i]>>10)}
		})
		if i == big {
			specs = append(specs, s)
			break
		}
		for c := range checks {
			s.Check(fmt.Sprintf("check %d", c), func(context.Context, *scenario.Network) scenario.Result {
				// Fresh evidence per run, as a real check's output is.
				ev := strings.Repeat(fmt.Sprintf("%s/%d: 64 bytes from 10.0.0.2 ", s.Name, c), evidence/40)
				if c%250 == 249 {
					return scenario.Result{Err: fmt.Errorf("%s check %d: no reply", s.Name, c), Evidence: ev}
				}
				return scenario.Result{Evidence: ev}
			})
		}
		specs = append(specs, s)
	}
	return specs
}

// TestRunHoldsOnlyScenariosInFlight runs 20 scenarios of 1000 checks with
// 2 KiB of evidence each (2 MiB a scenario, 40 MiB in all) through the
// suite command with every report (console, JUnit, JSON, the crash event
// stream; then KTAP) and checks that the heap in use after 20 scenarios is
// that after 5: the run holds the scenario in flight and small summaries,
// not every check's evidence. Retaining the outcomes grows it by about
// 30 MiB.
func TestRunHoldsOnlyScenariosInFlight(t *testing.T) {
	hostcheck.RequireRoot(t)
	const big, checks, evidence = 20, 1000, 2 << 10
	for _, format := range []string{"-color=never", "-ktap"} {
		dir := t.TempDir()
		heap := make([]uint64, big+1)
		specs := bigRun(big, checks, evidence, heap)
		var out bytes.Buffer
		stdout := &tail{max: 64 << 10}
		code := Command(context.Background(), []string{"-parallel", "1", format,
			"-junit", filepath.Join(dir, "junit.xml"), "-json", filepath.Join(dir, "events.json"), "-events", filepath.Join(dir, "crash.jsonl")},
			stdout, &out, specs)
		if code != ExitFail {
			t.Fatalf("%s: exit %d, want 1 (every big scenario has failed checks); stderr:\n%s", format, code, out.String())
		}
		after5, after20 := heap[5], heap[big]
		grown := int64(after20) - int64(after5)
		t.Logf("%s: heap in use after 5 scenarios %d KiB, after %d %d KiB (grew %d KiB)", format, after5>>10, big, after20>>10, grown>>10)
		if after5 == 0 || after20 == 0 {
			t.Fatalf("%s: heap not measured: %v", format, heap)
		}
		// One scenario's evidence is 2 MiB; the run holds none of the
		// finished ones.
		if grown > 8<<20 {
			t.Errorf("%s: heap grew by %d MiB from scenario 5 to %d (2 MiB of evidence each): finished scenarios are held", format, grown>>20, big)
		}
		for _, f := range []string{"junit.xml", "events.json"} {
			if info, err := os.Stat(filepath.Join(dir, f)); err != nil || info.Size() < big*checks*evidence/2 {
				t.Errorf("%s: %s: %v, want every check's evidence in it", format, f, err)
			}
		}
		// The console: every failure in full, passes as counts, and the
		// totals; KTAP: its totals.
		want := "\n21 scenarios: 1 passed, 20 failed, 0 skipped, 0 interrupted in "
		if format == "-ktap" {
			want = "# Totals: pass:1 fail:20 xfail:0 xpass:0 skip:0 error:0\n"
		}
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("%s: output lacks %q:\n%s", format, want, stdout.String())
		}
	}
}

// TestConsoleOfAThousandChecks: a scenario of 1000 checks is one line of
// counts and every failed check in full, with its evidence, and the
// summary recaps it.
func TestConsoleOfAThousandChecks(t *testing.T) {
	hostcheck.RequireRoot(t)
	heap := make([]uint64, 2)
	var out, errs bytes.Buffer
	code := Command(context.Background(), []string{"-color", "never"}, &out, &errs, bigRun(1, 999, 100, heap))
	if code != ExitFail {
		t.Fatalf("exit %d:\n%s%s", code, out.String(), errs.String())
	}
	got := out.String()
	if !strings.Contains(got, "FAIL big00 (") || !strings.Contains(got, "), 1000 checks: 997 passed, 3 failed\n") {
		t.Errorf("scenario line:\n%s", got)
	}
	for _, c := range []int{249, 499, 749} {
		if !strings.Contains(got, fmt.Sprintf("     FAIL check %d (", c)) || !strings.Contains(got, fmt.Sprintf("big00 check %d: no reply", c)) ||
			!strings.Contains(got, fmt.Sprintf("big00/%d: 64 bytes from", c)) {
			t.Errorf("failed check %d not shown in full:\n%s", c, got)
		}
	}
	if n := strings.Count(got, "\n"); n > 40 {
		t.Errorf("%d lines for one scenario of 1000 checks:\n%s", n, got)
	}
	if !strings.Contains(got, "\nnot passed:\nFAIL big00: ") || !strings.Contains(got, "(3 checks failed)\n") {
		t.Errorf("no recap:\n%s", got)
	}
}

// tail is a writer keeping the last max bytes written.
type tail struct {
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.buf) }

var _ io.Writer = (*tail)(nil)
