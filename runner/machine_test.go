package runner

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestTimingChecksGetTheMachine runs timing-sensitive scenarios (their check
// calls scenario.Exclusive) among busy ones with -parallel 8: while a timing
// check measures, no other scenario is in flight except those waiting for
// the machine themselves; the busy ones still run in parallel.
func TestTimingChecksGetTheMachine(t *testing.T) {
	hostcheck.RequireRoot(t)
	var active, waiting, maxBusy, busyNow atomic.Int32
	var mu sync.Mutex
	var violations []string
	var notes []string
	var specs []*scenario.Spec
	mk := func(name string) *scenario.Spec {
		s := scenario.Define(name, "")
		s.Host("a")
		s.Host("b")
		s.Link("a", "b")
		return s
	}
	for i := range 8 {
		s := mk(fmt.Sprintf("busy-%d", i))
		s.Check("works a while", func(ctx context.Context, n *scenario.Network) scenario.Result {
			now := busyNow.Add(1)
			for m := maxBusy.Load(); now > m && !maxBusy.CompareAndSwap(m, now); m = maxBusy.Load() {
			}
			defer busyNow.Add(-1)
			select { // simulated work, cut short if the run ends
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
			return scenario.Result{}
		})
		specs = append(specs, s)
	}
	for i := range 3 {
		s := mk(fmt.Sprintf("timing-%d", i))
		s.Check("measures", func(ctx context.Context, n *scenario.Network) scenario.Result {
			waiting.Add(1)
			release, note, err := scenario.Exclusive(ctx)
			waiting.Add(-1)
			if err != nil {
				return scenario.Verdict("", err)
			}
			defer release()
			for range 5 { // look a few times during the "measurement"
				if others := active.Load() - waiting.Load() - 1; others != 0 {
					mu.Lock()
					violations = append(violations, fmt.Sprintf("%d other scenarios in flight", others))
					mu.Unlock()
				}
				time.Sleep(10 * time.Millisecond) // the measurement's duration
			}
			mu.Lock()
			notes = append(notes, note)
			mu.Unlock()
			return scenario.Result{Evidence: note}
		})
		// Interleave: timing scenarios start among busy ones.
		specs = append(specs[:2+3*i], append([]*scenario.Spec{s}, specs[2+3*i:]...)...)
	}
	res := Run(context.Background(), specs, Options{
		Parallel: 8,
		OnStart:  func(*scenario.Spec) { active.Add(1) },
		OnDone:   func(scenario.Outcome) { active.Add(-1) },
	})
	if c := res.Counts(); c[scenario.Pass] != len(specs) {
		t.Errorf("%d of %d scenarios passed: %v; not passed: %+v", c[scenario.Pass], len(specs), c, res.Summary.Failed)
	}
	if len(violations) > 0 {
		t.Errorf("timing checks shared the machine: %v", violations)
	}
	if maxBusy.Load() < 2 {
		t.Errorf("busy scenarios never overlapped (max %d): parallelism was lost", maxBusy.Load())
	}
	for _, n := range notes {
		if len(n) < 10 || n[:9] != "ran alone" {
			t.Errorf("note %q", n)
		}
	}
	t.Logf("max busy at once %d; notes %v", maxBusy.Load(), notes)
}
