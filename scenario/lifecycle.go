package scenario

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/vtest-dev/vtest/internal/stacks"
)

// Status is the outcome of a scenario or a check.
type Status string

// The statuses, as reports show them.
const (
	Pass        Status = "PASS"
	Fail        Status = "FAIL"
	Skip        Status = "SKIP"
	Interrupted Status = "INTERRUPTED" // cancelled (Ctrl-C, SIGTERM) before it finished
)

// CheckOutcome is what one check or step of a run produced.
type CheckOutcome struct {
	Name string
	// Kind is ItemCheck or ItemStep.
	Kind   ItemKind
	Status Status
	// Message says why it failed or was skipped; items not run after a
	// failed step are skipped with a message starting "not run:".
	Message  string
	Evidence string
	Duration time.Duration
	// File and Line locate the Check call that declared the check.
	File string `json:",omitempty"`
	Line int    `json:",omitempty"`

	abandoned bool // the check did not return; its goroutine still runs
}

// Outcome is what one run of a scenario produced: validate, probe, build,
// checks, teardown.
type Outcome struct {
	Scenario string
	Status   Status
	// Step is where the run stopped when it did not pass: "validate",
	// "probe", "build: <step>", "check <name>", "step <name>",
	// "teardown".
	Step    string
	Message string
	Checks  []CheckOutcome
	// Build and Teardown are the durations of those phases.
	Build, Teardown time.Duration
	Duration        time.Duration
	// State is a dump of every node (addresses, routes, neighbours, NAT
	// rules), taken before teardown when a check failed.
	State string
	// Attachments are files written for this run (captures), for reports.
	Attachments []string
	// Notes are lines for the reader, e.g. how to inspect kept namespaces.
	Notes []string
	// KernelLog is what the kernel logged while the scenario ran, when the
	// run records it (vtest kernel does).
	KernelLog string `json:",omitempty"`
}

// RunOptions tune Run.
type RunOptions struct {
	// Filter, when set, selects the checks to run by name.
	Filter func(check string) bool
	// OnFailure, when set, is called with the network still up after a
	// check failed and before teardown, e.g. to keep it for debugging. The
	// lines it returns are added to Outcome.Notes.
	OnFailure func(*Network) []string
	// DumpState, when true, records the nodes' state in Outcome.State
	// after a failure.
	DumpState bool
	// Capture, when set, is called once the network is built; the function
	// it returns is called before teardown with whether the scenario failed,
	// and returns files to attach (e.g. packet captures).
	Capture func(*Network) (stop func(failed bool) []string)
	// OnCheck, when set, sees each check's outcome as soon as the check
	// returns, before the next one starts (live reports).
	OnCheck func(CheckOutcome)
	// Grace is how long a check may go on after its context ended (the
	// scenario timed out or the run was interrupted) before it is abandoned;
	// 0 means DefaultGrace.
	Grace time.Duration
	// CheckParallelism bounds the checks of a Parallel scenario running at
	// once; 0 means DefaultCheckParallelism, 1 runs them one at a time.
	CheckParallelism int
	// InconclusiveFails makes an inconclusive timing check (see
	// InconclusiveError) a failure instead of a skip.
	InconclusiveFails bool
}

// DefaultGrace is how long a check that ignores its context may outlive
// it before Run abandons it.
const DefaultGrace = time.Second

// Run runs one scenario's whole life cycle: validate, probe the kernel
// features it needs (skipping it when one is missing), build, run the checks
// in order, and tear down — always, even after a failure, a panic in a check
// or the cancellation of ctx.
func Run(ctx context.Context, s *Spec, opt RunOptions) (out Outcome) {
	start := time.Now()
	out.Scenario = s.Name
	defer func() { out.Duration = time.Since(start) }()

	p, err := s.plan()
	if err != nil {
		return out.fail("validate", err)
	}
	for _, f := range s.Features() {
		if err := f.Probe(); err != nil {
			if errors.Is(err, ErrNotSupported) {
				out.Status, out.Step, out.Message = Skip, "probe", err.Error()
				return out
			}
			return out.fail("probe", err)
		}
	}
	t0 := time.Now()
	n, err := build(ctx, p)
	out.Build = time.Since(t0)
	if err != nil {
		step := "build"
		var be *BuildError
		if errors.As(err, &be) {
			step = "build: " + be.Step
		}
		if ctx.Err() != nil {
			return out.cancelled(ctx, step)
		}
		return out.fail(step, err)
	}
	defer func() {
		t := time.Now()
		if err := n.Close(); err != nil && out.Status == Pass {
			out = out.fail("teardown", err)
		}
		out.Teardown = time.Since(t)
	}()

	if opt.Capture != nil {
		if stop := opt.Capture(n); stop != nil {
			// Runs before the teardown deferred above: LIFO.
			defer func() { out.Attachments = append(out.Attachments, stop(out.Status != Pass)...) }()
		}
	}
	out.Status = Pass
	// The items to run, by index into s.checks. Steps are never filtered
	// out: a check may depend on any step before it.
	var run []int
	for i, c := range s.checks {
		if c.IsStep() || opt.Filter == nil || opt.Filter(c.Name) {
			run = append(run, i)
		}
	}
	// record adds one item's outcome; it returns whether the scenario
	// stops there: returned (abandoned, cancelled) or, after a failed
	// step, ended with the rest not run.
	const (
		goOn = iota
		returned
		stepFailed
	)
	record := func(i int, co CheckOutcome) int {
		c := s.checks[i]
		where := string(c.kind()) + " " + c.Name
		out.Checks = append(out.Checks, co)
		if co.abandoned {
			// The check's goroutine still runs; the teardown deferred
			// above closes what it holds. Nothing else runs after it.
			out = out.cancelled(ctx, where, fmt.Sprintf("the %s was abandoned: it ignores its context (its goroutines are in its report)", c.kind()))
			return returned
		}
		if co.Status == Fail && ctx.Err() != nil {
			out = out.cancelled(ctx, where)
			return returned
		}
		if co.Status == Fail && c.IsStep() {
			// A failed step leaves the network in a state no later item
			// was written for: stop, and say what was not run and why.
			out.Status, out.Step, out.Message = Fail, where, fmt.Sprintf("step %q failed: %s", c.Name, co.Message)
			out.Checks = append(out.Checks, notRun(s.checks[i+1:], opt.Filter, c.Name)...)
			return stepFailed
		}
		if co.Status == Fail && out.Status == Pass {
			out.Status, out.Step, out.Message = Fail, where, co.Message
		}
		return goOn
	}
items:
	for k := 0; k < len(run); {
		i := run[k]
		c := s.checks[i]
		if ctx.Err() != nil {
			return out.cancelled(ctx, string(c.kind())+" "+c.Name)
		}
		// A batch: the checks up to the next step, when independent.
		end := k + 1
		if s.parallel && !c.IsStep() {
			for end < len(run) && !s.checks[run[end]].IsStep() {
				end++
			}
		}
		if end-k == 1 {
			co := runCheck(ctx, n, c, opt)
			co.Kind = c.kind()
			if opt.OnCheck != nil {
				opt.OnCheck(co)
			}
			switch record(i, co) {
			case returned:
				return out
			case stepFailed:
				break items
			}
			k++
			continue
		}
		batch := make([]CheckSpec, 0, end-k)
		for _, j := range run[k:end] {
			batch = append(batch, s.checks[j])
		}
		outs := runBatch(ctx, n, batch, opt, opt.checkParallelism(), opt.OnCheck)
		for b, co := range outs {
			if record(run[k+b], co) == returned {
				// The rest of the batch ran too: report it.
				out.Checks = append(out.Checks, outs[b+1:]...)
				return out
			}
		}
		if len(outs) < len(batch) {
			return out.cancelled(ctx, string(ItemCheck)+" "+batch[len(outs)].Name)
		}
		k = end
	}
	if out.Status == Fail {
		if opt.DumpState {
			out.State = n.DumpState()
		}
		if opt.OnFailure != nil {
			out.Notes = append(out.Notes, opt.OnFailure(n)...)
		}
	}
	return out
}

func (o RunOptions) grace() time.Duration {
	if o.Grace > 0 {
		return o.Grace
	}
	return DefaultGrace
}

// runCheck runs one check on a goroutine of its own, so that a check that
// ignores its context (a sleep, a blocking read, a busy loop) cannot hold
// the scenario: grace after ctx ends, the check is abandoned and reported
// with the stacks of its goroutines.
func runCheck(ctx context.Context, n *Network, c CheckSpec, opt RunOptions) CheckOutcome {
	start := time.Now()
	co := judgeWithin(ctx, n, c.Func, opt.InconclusiveFails, opt.grace())
	co.Name = c.Name
	co.Duration = time.Since(start)
	co.File, co.Line = c.File, c.Line
	return co
}

// Judge runs one check and reports it as a run does: its status, message
// and evidence (bounded to MaxEvidence), with a panic in the check a
// failure carrying its stack. inconclusiveFails is RunOptions'. The check
// runs on a goroutine of its own: if it ignores its context and has not
// returned DefaultGrace after ctx ended, Judge abandons it and returns a
// failure with the stacks of its goroutines, as a run does.
// assert.Check reports through it, so a check reads the same in go test
// as in a run.
func Judge(ctx context.Context, n *Network, f CheckFunc, inconclusiveFails bool) CheckOutcome {
	return judgeWithin(ctx, n, f, inconclusiveFails, DefaultGrace)
}

// judgeWithin is Judge with the grace a check gets after ctx ends.
func judgeWithin(ctx context.Context, n *Network, f CheckFunc, inconclusiveFails bool, grace time.Duration) CheckOutcome {
	co, stuck, ok := stacks.Await(ctx, grace, func() CheckOutcome { return judge(ctx, n, f, inconclusiveFails) })
	if !ok {
		co = CheckOutcome{Status: Fail, abandoned: true,
			Message: fmt.Sprintf("abandoned: still running %v after its context ended (%v); it ignores its context. Its goroutines:\n%s",
				grace, context.Cause(ctx), stuck)}
	}
	return co
}

// judge runs the check on the calling goroutine.
func judge(ctx context.Context, n *Network, f CheckFunc, inconclusiveFails bool) (co CheckOutcome) {
	defer func() {
		if r := recover(); r != nil {
			co.Status = Fail
			co.Message = BoundText(fmt.Sprintf("panic: %v\n%s", r, debug.Stack()), MaxEvidence)
		}
	}()
	r := f(ctx, n)
	co.Evidence = BoundText(r.Evidence, MaxEvidence)
	co.Status, co.Message = r.Classify(inconclusiveFails)
	co.Message = BoundText(co.Message, MaxEvidence)
	return co
}

// Classify is how a run reports a check's result: its status (Pass, Fail
// or Skip) and the message saying why it failed or was skipped. An
// inconclusive result is a skip, or a failure when inconclusiveFails (vtest
// run -inconclusive fail). assert's testing helpers report through it
// too.
func (r Result) Classify(inconclusiveFails bool) (Status, string) {
	switch {
	case r.Skip != "" && inconclusiveFails && IsInconclusive(r.Err):
		return Fail, r.Skip + " (inconclusive counts as failure in this run)"
	case r.Skip != "":
		return Skip, r.Skip
	case r.Err != nil:
		return Fail, r.Err.Error()
	}
	return Pass, ""
}

func (o Outcome) fail(step string, err error) Outcome {
	o.Status, o.Step, o.Message = Fail, step, err.Error()
	return o
}

// cancelled reports a scenario stopped by ctx: a timeout is a failure, an
// interruption (Ctrl-C, SIGTERM, the run's deadline) is reported as such.
// detail, when given, is added (e.g. why a check was abandoned).
func (o Outcome) cancelled(ctx context.Context, step string, detail ...string) Outcome {
	o.Step = step
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		o.Status = Fail
		o.Message = fmt.Sprintf("timed out in step %s", step)
	} else {
		o.Status = Interrupted
		o.Message = fmt.Sprintf("interrupted in step %s: %v", step, context.Cause(ctx))
	}
	for _, d := range detail {
		o.Message += "\n" + d
	}
	return o
}

// NotRunPrefix starts the message of the items skipped after a failed
// step.
const NotRunPrefix = "not run: "

// notRun reports the items after a failed step as skipped, with the reason.
func notRun(rest []CheckSpec, filter func(string) bool, failed string) []CheckOutcome {
	var out []CheckOutcome
	for _, c := range rest {
		if !c.IsStep() && filter != nil && !filter(c.Name) {
			continue
		}
		out = append(out, CheckOutcome{Name: c.Name, Kind: c.kind(), Status: Skip,
			Message: fmt.Sprintf("%sstep %q failed", NotRunPrefix, failed)})
	}
	return out
}

// kind returns the item's kind, ItemCheck when unset.
func (c CheckSpec) kind() ItemKind {
	if c.Kind == "" {
		return ItemCheck
	}
	return c.Kind
}

// IsStep reports whether the outcome is a step's.
func (c CheckOutcome) IsStep() bool { return c.Kind == ItemStep }
