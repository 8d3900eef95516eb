package scenario

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
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

// CheckOutcome is what one check of a run produced.
type CheckOutcome struct {
	Name     string
	Status   Status
	Message  string // why it failed or was skipped
	Evidence string
	Duration time.Duration
	// File and Line locate the Check call that declared the check.
	File string `json:",omitempty"`
	Line int    `json:",omitempty"`
}

// Outcome is what one run of a scenario produced: validate, probe, build,
// checks, teardown.
type Outcome struct {
	Scenario string
	Status   Status
	// Step is where the run stopped when it did not pass: "validate",
	// "probe", "build: <step>", "check <name>", "teardown".
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
}

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
	for _, c := range s.checks {
		if opt.Filter != nil && !opt.Filter(c.Name) {
			continue
		}
		if ctx.Err() != nil {
			return out.cancelled(ctx, "check "+c.Name)
		}
		co := runCheck(ctx, n, c)
		out.Checks = append(out.Checks, co)
		if opt.OnCheck != nil {
			opt.OnCheck(co)
		}
		if co.Status == Fail && ctx.Err() != nil {
			return out.cancelled(ctx, "check "+c.Name)
		}
		if co.Status == Fail && out.Status == Pass {
			out.Status, out.Step, out.Message = Fail, "check "+c.Name, co.Message
		}
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

func runCheck(ctx context.Context, n *Network, c CheckSpec) (co CheckOutcome) {
	co.Name, co.File, co.Line = c.Name, c.File, c.Line
	start := time.Now()
	defer func() {
		co.Duration = time.Since(start)
		if r := recover(); r != nil {
			co.Status = Fail
			co.Message = fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	r := c.Func(ctx, n)
	co.Evidence = r.Evidence
	switch {
	case r.Skip != "":
		co.Status, co.Message = Skip, r.Skip
	case r.Err != nil:
		co.Status, co.Message = Fail, r.Err.Error()
	default:
		co.Status = Pass
	}
	return co
}

func (o Outcome) fail(step string, err error) Outcome {
	o.Status, o.Step, o.Message = Fail, step, err.Error()
	return o
}

func (o Outcome) cancelled(ctx context.Context, step string) Outcome {
	o.Step = step
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		o.Status = Fail
		o.Message = fmt.Sprintf("timed out in step %s", step)
		return o
	}
	o.Status = Interrupted
	o.Message = fmt.Sprintf("interrupted in step %s: %v", step, context.Cause(ctx))
	return o
}
