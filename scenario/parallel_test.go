package scenario_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// gauge counts the checks running at once and remembers the most.
type gauge struct{ now, max atomic.Int32 }

func (g *gauge) enter() {
	n := g.now.Add(1)
	for {
		m := g.max.Load()
		if n <= m || g.max.CompareAndSwap(m, n) {
			return
		}
	}
}

func (g *gauge) leave() { g.now.Add(-1) }

// sleeper is an independent check that takes d (or until ctx ends).
func sleeper(g *gauge, d time.Duration, err error) scenario.CheckFunc {
	return func(ctx context.Context, n *scenario.Network) scenario.Result {
		g.enter()
		defer g.leave()
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return scenario.Verdict("", ctx.Err())
		}
		return scenario.Verdict("slept", err)
	}
}

func oneHost(name string) *scenario.Spec {
	s := scenario.Define(name, "one host")
	s.Host("h")
	return s
}

func names(cs []scenario.CheckOutcome) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

func TestParallelChecksKeepOrderAndBound(t *testing.T) {
	hostcheck.RequireRoot(t)
	const checks, limit, each = 16, 4, 50 * time.Millisecond
	var g gauge
	s := oneHost("parallel").Parallel()
	var want []string
	for i := range checks {
		// Later checks are quicker, so they finish first.
		s.Check(fmt.Sprintf("c%d", i), sleeper(&g, each+time.Duration(checks-i)*time.Millisecond, nil))
		want = append(want, fmt.Sprintf("c%d", i))
	}
	var live []string
	var mu sync.Mutex
	start := time.Now()
	out := scenario.Run(context.Background(), s, scenario.RunOptions{CheckParallelism: limit, OnCheck: func(c scenario.CheckOutcome) {
		mu.Lock()
		live = append(live, c.Name)
		mu.Unlock()
	}})
	wall := time.Since(start) - out.Build - out.Teardown
	if out.Status != scenario.Pass {
		t.Fatalf("%s %s: %s", out.Status, out.Step, out.Message)
	}
	if got := names(out.Checks); got != strings.Join(want, ",") {
		t.Errorf("outcomes in order %s, want the definition order", got)
	}
	if got := strings.Join(live, ","); got != strings.Join(want, ",") {
		t.Errorf("live reports in order %s, want the definition order", got)
	}
	if m := g.max.Load(); m != limit {
		t.Errorf("at most %d checks ran at once, want the bound %d", m, limit)
	}
	// Sequential would take 16 × ≥50 ms = 0.8 s; four at a time ≈ 0.25 s.
	if seq := checks * each; wall > seq/2 {
		t.Errorf("checks took %v, not faster than half the sequential %v", wall, seq)
	}
	t.Logf("16 checks of ≥50 ms, 4 at a time: %v", wall.Round(time.Millisecond))
}

func TestSequentialWithoutParallel(t *testing.T) {
	hostcheck.RequireRoot(t)
	var g gauge
	s := oneHost("sequential")
	for i := range 4 {
		s.Check(fmt.Sprintf("c%d", i), sleeper(&g, 5*time.Millisecond, nil))
	}
	if out := scenario.Run(context.Background(), s, scenario.RunOptions{}); out.Status != scenario.Pass {
		t.Fatalf("%s: %s", out.Status, out.Message)
	}
	if m := g.max.Load(); m != 1 {
		t.Errorf("%d checks ran at once in a scenario not declared parallel", m)
	}
}

func TestParallelStepIsBarrier(t *testing.T) {
	hostcheck.RequireRoot(t)
	var g gauge
	var before, after atomic.Int32
	s := oneHost("barrier").Parallel()
	for i := range 3 {
		s.Check(fmt.Sprintf("before%d", i), func(ctx context.Context, n *scenario.Network) scenario.Result {
			r := sleeper(&g, time.Duration(10*(i+1))*time.Millisecond, nil)(ctx, n)
			before.Add(1)
			return r
		})
	}
	s.StepFunc("barrier", func(ctx context.Context, n *scenario.Network) error {
		if b, a := before.Load(), after.Load(); b != 3 || a != 0 {
			return fmt.Errorf("step ran with %d checks before it done and %d after it started", b, a)
		}
		return nil
	})
	for i := range 3 {
		s.Check(fmt.Sprintf("after%d", i), func(ctx context.Context, n *scenario.Network) scenario.Result {
			after.Add(1)
			return sleeper(&g, 10*time.Millisecond, nil)(ctx, n)
		})
	}
	out := scenario.Run(context.Background(), s, scenario.RunOptions{})
	if out.Status != scenario.Pass {
		t.Fatalf("%s %s: %s", out.Status, out.Step, out.Message)
	}
	if got, want := names(out.Checks), "before0,before1,before2,barrier,after0,after1,after2"; got != want {
		t.Errorf("order %s, want %s", got, want)
	}
	if g.max.Load() < 2 {
		t.Errorf("checks between steps did not overlap")
	}
}

func TestParallelFailureReported(t *testing.T) {
	hostcheck.RequireRoot(t)
	var g gauge
	s := oneHost("parallel-fail").Parallel()
	for i := range 6 {
		var err error
		if i == 2 || i == 4 {
			err = fmt.Errorf("c%d is broken", i)
		}
		// The later failure returns first.
		s.Check(fmt.Sprintf("c%d", i), sleeper(&g, time.Duration(60-10*i)*time.Millisecond, err))
	}
	out := scenario.Run(context.Background(), s, scenario.RunOptions{})
	if out.Status != scenario.Fail || out.Step != "check c2" || out.Message != "c2 is broken" {
		t.Fatalf("outcome %s %q %q, want FAIL at the first failing check in definition order, c2", out.Status, out.Step, out.Message)
	}
	for i, c := range out.Checks {
		want := scenario.Pass
		if i == 2 || i == 4 {
			want = scenario.Fail
		}
		if c.Name != fmt.Sprintf("c%d", i) || c.Status != want {
			t.Errorf("check %d: %s %s, want c%d %s", i, c.Name, c.Status, i, want)
		}
	}
}

// machine is a runner's Machine that records its use.
type machine struct{ acquired atomic.Int32 }

func (m *machine) Acquire(ctx context.Context) (func(), error) {
	m.acquired.Add(1)
	return func() {}, nil
}

func TestParallelExclusiveMeasuresAlone(t *testing.T) {
	hostcheck.RequireRoot(t)
	var g gauge
	var overlap atomic.Int32
	exclusive := func(ctx context.Context, n *scenario.Network) scenario.Result {
		release, note, err := scenario.Exclusive(ctx)
		if err != nil {
			return scenario.Verdict("", err)
		}
		defer release()
		g.enter()
		defer g.leave()
		for range 5 { // while it measures, nothing else of its scenario runs
			if g.now.Load() != 1 {
				overlap.Add(1)
			}
			time.Sleep(2 * time.Millisecond)
		}
		return scenario.Verdict(note, nil)
	}
	s := oneHost("parallel-exclusive").Parallel()
	for i := range 8 {
		if i == 3 || i == 6 {
			s.Check(fmt.Sprintf("timing%d", i), exclusive)
			continue
		}
		s.Check(fmt.Sprintf("c%d", i), sleeper(&g, 20*time.Millisecond, nil))
	}
	m := &machine{}
	out := scenario.Run(scenario.WithMachine(context.Background(), m), s, scenario.RunOptions{})
	if out.Status != scenario.Pass {
		t.Fatalf("%s %s: %s", out.Status, out.Step, out.Message)
	}
	if n := overlap.Load(); n != 0 {
		t.Errorf("an exclusive check saw other checks of its scenario running %d times", n)
	}
	if n := m.acquired.Load(); n != 2 {
		t.Errorf("the runner's machine was asked %d times, want 2", n)
	}
	if g.max.Load() < 2 {
		t.Errorf("the other checks did not overlap")
	}
	if ev := out.Checks[3].Evidence; !strings.Contains(ev, "ran alone") {
		t.Errorf("evidence %q does not say the check ran alone", ev)
	}
	// Outside a runner, Exclusive says what "alone" means.
	out = scenario.Run(context.Background(), s, scenario.RunOptions{})
	if ev := out.Checks[3].Evidence; !strings.Contains(ev, "alone in its scenario") {
		t.Errorf("evidence without a runner %q", ev)
	}
}

func TestParallelCancelStopsStarting(t *testing.T) {
	hostcheck.RequireRoot(t)
	var g gauge
	var started atomic.Int32
	s := oneHost("parallel-cancel").Parallel()
	for i := range 20 {
		s.Check(fmt.Sprintf("c%d", i), func(ctx context.Context, n *scenario.Network) scenario.Result {
			started.Add(1)
			return sleeper(&g, time.Hour, nil)(ctx, n)
		})
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(100*time.Millisecond, func() { cancel(errors.New("test interrupt")) })
	out := scenario.Run(ctx, s, scenario.RunOptions{CheckParallelism: 4})
	if out.Status != scenario.Interrupted {
		t.Fatalf("%s %s: %s, want INTERRUPTED", out.Status, out.Step, out.Message)
	}
	if n := started.Load(); n != 4 {
		t.Errorf("%d checks started, want the 4 running when the run was interrupted", n)
	}
	if len(out.Checks) != 4 {
		t.Errorf("%d outcomes (%s), want the 4 that ran", len(out.Checks), names(out.Checks))
	}
}
