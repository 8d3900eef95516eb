// Package runner runs many scenarios: filtering, per-scenario timeouts,
// parallelism, repetition, sharding, signals, skips and exit codes. Each
// scenario lives in namespaces of its own, so running them in parallel is
// safe.
package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vtest-dev/vtest/internal/stacks"
	"github.com/vtest-dev/vtest/reports"
	"github.com/vtest-dev/vtest/scenario"
)

// Options tune a run.
type Options struct {
	// Run selects scenarios, and optionally checks, like go test -run:
	// "nat" or "nat/outside". Nil runs everything.
	Run *regexp.Regexp
	// Parallel is the number of scenarios run at once; 0 means the number
	// of CPUs.
	Parallel int
	// Timeout bounds each scenario; 0 means 2 minutes.
	Timeout time.Duration
	// Count runs each scenario this many times; 0 means once.
	Count int
	// Shuffle, when non-zero, runs scenarios in an order shuffled with
	// this seed.
	Shuffle uint64
	// Shard runs only shard K of N (K in 1..N); the split is by position in
	// the sorted list and deterministic.
	ShardK, ShardN int
	// DumpState records the nodes' state in the outcome of a failed
	// scenario.
	DumpState bool
	// OnFailure is called with the failed network before teardown; its
	// lines go to the outcome's notes.
	OnFailure func(spec *scenario.Spec, n *scenario.Network) []string
	// Capture is passed to scenario.RunOptions.Capture.
	Capture func(spec *scenario.Spec, n *scenario.Network) (stop func(failed bool) []string)
	// InconclusiveFails makes inconclusive timing checks (a machine too busy
	// to measure) failures instead of skips.
	InconclusiveFails bool
	// OnStart and OnDone, when set, see each scenario start and finish;
	// OnCheck sees each check's outcome as soon as the check returns.
	// OnDone calls never overlap, and OnDone is the last to see an
	// outcome: Run keeps only its Summary (see Result).
	OnStart func(spec *scenario.Spec)
	OnCheck func(spec *scenario.Spec, c scenario.CheckOutcome)
	OnDone  func(o scenario.Outcome)
	// Amend, when set, may change each outcome before it is reported, e.g.
	// to fail a scenario during which the kernel logged a warning.
	Amend func(spec *scenario.Spec, o scenario.Outcome) scenario.Outcome
}

// Result is the outcome of a run: how many scenario runs ended in each
// status and which failed, with the first line of why. It keeps no
// scenario's checks or evidence, so a run of any size holds only the
// scenarios in flight: each outcome goes to Options.OnDone as its scenario
// finishes, and is dropped after. To keep the outcomes of a small run,
// append them in OnDone.
type Result struct {
	Start    time.Time
	Duration time.Duration
	// Summary counts the runs per status and lists the failed ones; its
	// Duration is the run's.
	Summary reports.Summary
}

// Counts returns the number of scenario runs per status.
func (r *Result) Counts() map[scenario.Status]int {
	c := map[scenario.Status]int{}
	for st, n := range r.Summary.Counts {
		c[st] = n
	}
	return c
}

// Exit codes, as kselftest uses them.
const (
	ExitPass    = 0
	ExitFail    = 1
	ExitUsage   = 2
	ExitAllSkip = 4
)

// ExitCode is 0 when everything passed (skips allowed), 1 on any failure or
// interruption, and 4 when every scenario was skipped.
func (r *Result) ExitCode() int {
	c := r.Summary.Counts // read only: no copy
	switch {
	case c[scenario.Fail] > 0 || c[scenario.Interrupted] > 0:
		return ExitFail
	case r.Summary.Runs() > 0 && c[scenario.Skip] == r.Summary.Runs():
		return ExitAllSkip
	}
	return ExitPass
}

// Select returns the scenarios a run with these options would run, in
// order.
func Select(specs []*scenario.Spec, opt Options) []*scenario.Spec {
	var out []*scenario.Spec
	scenarioRE, _ := splitRun(opt.Run)
	for _, s := range specs {
		if scenarioRE == nil || scenarioRE.MatchString(s.Name) {
			out = append(out, s)
		}
	}
	if opt.ShardN > 0 {
		var shard []*scenario.Spec
		for i, s := range out {
			if i%opt.ShardN == opt.ShardK-1 {
				shard = append(shard, s)
			}
		}
		out = shard
	}
	count := max(opt.Count, 1)
	var rep []*scenario.Spec
	for range count {
		rep = append(rep, out...)
	}
	if opt.Shuffle != 0 {
		rnd := rand.New(rand.NewPCG(opt.Shuffle, opt.Shuffle))
		rnd.Shuffle(len(rep), func(i, j int) { rep[i], rep[j] = rep[j], rep[i] })
	}
	return rep
}

// splitRun splits a -run pattern like go test does: "a/b" selects the
// checks matching b of the scenarios matching a; a pattern without "/"
// selects scenarios only (check is nil). The parts were validated when the
// flag was parsed.
func splitRun(re *regexp.Regexp) (scenarioRE, checkRE *regexp.Regexp) {
	if re == nil {
		return nil, nil
	}
	first, rest, ok := strings.Cut(re.String(), "/")
	scenarioRE = regexp.MustCompile(first)
	if ok {
		checkRE = regexp.MustCompile(rest)
	}
	return scenarioRE, checkRE
}

// Run runs the selected scenarios. Cancelling ctx (on Ctrl-C or SIGTERM)
// stops starting scenarios and cancels the running ones, which are torn
// down and reported as interrupted; scenarios never started are reported as
// interrupted too.
func Run(ctx context.Context, specs []*scenario.Spec, opt Options) *Result {
	res := &Result{Start: time.Now()}
	sel := Select(specs, opt)
	par := opt.Parallel
	if par <= 0 {
		par = runtime.NumCPU()
	}
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	var checks func(string) bool
	if _, checkRE := splitRun(opt.Run); checkRE != nil {
		checks = checkRE.MatchString
	}
	started := make([]bool, len(sel))
	mach := newMachine()
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var mu sync.Mutex
	// done counts a finished run and hands its outcome to OnDone, which
	// is the last to see it.
	done := func(o scenario.Outcome) {
		mu.Lock()
		defer mu.Unlock()
		res.Summary.Add(o)
		if opt.OnDone != nil {
			opt.OnDone(o)
		}
	}
	for i, s := range sel {
		select {
		case <-ctx.Done():
		case sem <- struct{}{}:
		}
		if ctx.Err() != nil {
			break
		}
		started[i] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			sl, err := mach.start(ctx)
			if err != nil {
				done(notStarted(ctx, s))
				return
			}
			defer sl.end()
			if opt.OnStart != nil {
				opt.OnStart(s)
			}
			o := runOne(scenario.WithMachine(ctx, sl), s, timeout, checks, opt)
			if opt.Amend != nil {
				o = opt.Amend(s, o)
			}
			done(o)
		}()
	}
	wg.Wait()
	for i, s := range sel {
		if !started[i] {
			done(notStarted(ctx, s))
		}
	}
	res.Duration = time.Since(res.Start)
	res.Summary.Duration = res.Duration
	return res
}

// notStarted is the outcome of a scenario run the run was stopped before.
func notStarted(ctx context.Context, s *scenario.Spec) scenario.Outcome {
	return scenario.Outcome{Scenario: s.Name, Status: scenario.Interrupted, Step: "not started",
		Message: fmt.Sprintf("interrupted before it started: %v", context.Cause(ctx))}
}

// ErrTimeout is the cause of a scenario's context when its timeout expires.
var ErrTimeout = errors.New("scenario timed out")

// abandonAfter is how long runOne waits for a scenario after its context
// ended before abandoning it: the grace of a stuck check plus time for a
// teardown. A scenario still running then (stuck in user code that is not
// a check, e.g. a Capture or OnFailure hook, or in the kernel) is reported
// with its goroutines' stacks and left behind, so the run goes on.
const abandonAfter = scenario.DefaultGrace + 4*time.Second

func runOne(ctx context.Context, s *scenario.Spec, timeout time.Duration, checks func(string) bool, opt Options) scenario.Outcome {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, ErrTimeout)
	defer cancel()
	start := time.Now()
	out, stuck, ok := stacks.Await(ctx, abandonAfter, func() scenario.Outcome { return runScenario(ctx, s, timeout, checks, opt) })
	if ok {
		return out
	}
	out = scenario.Outcome{Scenario: s.Name, Status: scenario.Interrupted, Step: "runner", Duration: time.Since(start),
		Message: fmt.Sprintf("abandoned: still running %v after it was stopped (%v). Its goroutines:\n%s",
			abandonAfter, context.Cause(ctx), stuck)}
	if errors.Is(context.Cause(ctx), ErrTimeout) {
		out.Status = scenario.Fail
		out.Message = fmt.Sprintf("timed out after %s; %s", timeout, out.Message)
	}
	return out
}

func runScenario(ctx context.Context, s *scenario.Spec, timeout time.Duration, checks func(string) bool, opt Options) (out scenario.Outcome) {
	defer func() {
		if r := recover(); r != nil {
			out = scenario.Outcome{Scenario: s.Name, Status: scenario.Fail, Step: "runner", Message: fmt.Sprintf("panic: %v", r)}
		}
	}()
	ro := scenario.RunOptions{Filter: checks, DumpState: opt.DumpState, InconclusiveFails: opt.InconclusiveFails}
	if opt.OnFailure != nil {
		ro.OnFailure = func(n *scenario.Network) []string { return opt.OnFailure(s, n) }
	}
	if opt.Capture != nil {
		ro.Capture = func(n *scenario.Network) func(bool) []string { return opt.Capture(s, n) }
	}
	if opt.OnCheck != nil {
		ro.OnCheck = func(c scenario.CheckOutcome) { opt.OnCheck(s, c) }
	}
	out = scenario.Run(ctx, s, ro)
	if errors.Is(context.Cause(ctx), ErrTimeout) && out.Status != scenario.Pass && out.Status != scenario.Skip {
		out.Status = scenario.Fail
		msg := fmt.Sprintf("timed out after %s in step %s", timeout, out.Step)
		if _, detail, ok := strings.Cut(out.Message, "\n"); ok {
			msg += "\n" + detail // e.g. the stacks of an abandoned check
		}
		out.Message = msg
	}
	return out
}
