package assert_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// tapT is a test double that records what a helper did to the test:
// failed, skipped (its Skipf returns) or logged.
type tapT struct {
	errs, logs []string
	skip       string
	skipped    bool
}

func (r *tapT) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *tapT) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}
func (r *tapT) Skipf(format string, args ...any) {
	r.skipped, r.skip = true, fmt.Sprintf(format, args...)
}
func (r *tapT) Helper()                  {}
func (r *tapT) Context() context.Context { return context.Background() }

// outcome reads the double as a run's outcome: its status and message.
func (r *tapT) outcome() (scenario.Status, string) {
	switch {
	case len(r.errs) > 0:
		return scenario.Fail, strings.Join(r.errs, "\n")
	case r.skipped:
		return scenario.Skip, r.skip
	}
	return scenario.Pass, ""
}

// TestCheckReportsAsTheRunner runs the same checks (a pass, a failure, a
// skip, an inconclusive result and a panic) through scenario.Run, as vtest
// run does, and through assert.Check: each ends in the same status with the
// same message, inconclusive a skip and, under VTEST_INCONCLUSIVE=fail, a
// failure as under -inconclusive fail.
func TestCheckReportsAsTheRunner(t *testing.T) {
	hostcheck.RequireRoot(t)
	checks := []struct {
		name string
		f    scenario.CheckFunc
	}{
		{"pass", assert.Reach("client", "server")},
		{"fail", assert.NoReach("client", "server")},
		{"skip", func(context.Context, *scenario.Network) scenario.Result {
			return scenario.Result{Skip: "no frobnicator on this kernel", Evidence: "looked for it"}
		}},
		{"inconclusive", func(context.Context, *scenario.Network) scenario.Result {
			return scenario.Verdict("3 of 5 samples late", &scenario.InconclusiveError{Reason: "machine too busy to time"})
		}},
		{"panic", func(context.Context, *scenario.Network) scenario.Result { panic("check broke") }},
	}
	spec := func() *scenario.Spec {
		s := scenario.Define("check-as-runner", "two hosts; checks that pass, fail, skip, are inconclusive, panic")
		s.Host("client")
		s.Host("server")
		s.Link("client", "server")
		for _, c := range checks {
			s.Check(c.name, c.f)
		}
		return s
	}
	// firstLine drops a panic's stack, which differs between the two calls.
	// The measured times ("took 0.248ms of 500.000ms") differ between the
	// two runs of a check too.
	took := regexp.MustCompile(`took [0-9.]+ms`)
	firstLine := func(s string) string { return took.ReplaceAllString(strings.SplitN(s, "\n", 2)[0], "took …") }
	for _, fails := range []bool{false, true} {
		out := scenario.Run(context.Background(), spec(), scenario.RunOptions{InconclusiveFails: fails})
		if len(out.Checks) != len(checks) {
			t.Fatalf("inconclusive fails %v: the run reported %d checks, want %d: %s %s", fails, len(out.Checks), len(checks), out.Status, out.Message)
		}
		if fails {
			t.Setenv("VTEST_INCONCLUSIVE", "fail")
		}
		n := scenario.New(t, spec())
		for i, c := range checks {
			tt := &tapT{}
			ok := assert.Check(tt, n, c.f)
			status, msg := tt.outcome()
			run := out.Checks[i]
			if status != run.Status || firstLine(msg) != firstLine(run.Message) {
				t.Errorf("inconclusive fails %v, check %s: assert.Check reported %s %q, the run %s %q", fails, c.name, status, msg, run.Status, run.Message)
			}
			if ok != (run.Status == scenario.Pass) {
				t.Errorf("inconclusive fails %v, check %s: assert.Check returned %v on %s", fails, c.name, ok, run.Status)
			}
		}
		// The classes the run gave, so that the comparison above means
		// what it says.
		want := []scenario.Status{scenario.Pass, scenario.Fail, scenario.Skip, scenario.Skip, scenario.Fail}
		if fails {
			want[3] = scenario.Fail
		}
		for i, co := range out.Checks {
			if co.Status != want[i] {
				t.Errorf("inconclusive fails %v: the run reported %s %s (%s), want %s", fails, co.Name, co.Status, co.Message, want[i])
			}
		}
	}
}

// deadlineT is a tapT whose test has a deadline (go test -timeout).
type deadlineT struct {
	tapT
	deadline time.Time
}

func (d *deadlineT) Deadline() (time.Time, bool) { return d.deadline, true }

// TestCheckAbandonsAHangingCheck: a check that ignores its context is
// abandoned before the test's deadline and fails with the stacks of its
// goroutines, as a run abandons it; a check that honours its context sees
// it end before the deadline.
func TestCheckAbandonsAHangingCheck(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("hang", "two hosts")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b")
	n := scenario.New(t, s)
	release := make(chan struct{})
	defer close(release)
	hangs := func(context.Context, *scenario.Network) scenario.Result {
		<-release // ignores its context
		return scenario.Result{}
	}
	dt := &deadlineT{deadline: time.Now().Add(4 * time.Second)}
	start := time.Now()
	if assert.Check(dt, n, hangs) {
		t.Fatal("a hanging check passed")
	}
	took := time.Since(start)
	status, msg := dt.outcome()
	if status != scenario.Fail || !strings.Contains(msg, "abandoned") || !strings.Contains(msg, "deadline (go test -timeout)") || !strings.Contains(msg, "TestCheckAbandonsAHangingCheck") {
		t.Errorf("want a failure saying the check was abandoned near the test's deadline, with its stack; got %s %q", status, msg)
	}
	if took > 4*time.Second {
		t.Errorf("the check was abandoned after %v, past the test's deadline", took)
	}
	honours := func(ctx context.Context, _ *scenario.Network) scenario.Result {
		<-ctx.Done()
		return scenario.Verdict("", context.Cause(ctx))
	}
	dt = &deadlineT{deadline: time.Now().Add(3 * time.Second)}
	assert.Check(dt, n, honours)
	if status, msg := dt.outcome(); status != scenario.Fail || !strings.Contains(msg, "deadline (go test -timeout)") {
		t.Errorf("a check waiting for its context: %s %q, want the test's deadline as the cause", status, msg)
	}
}
