package scenario

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ItemKind tells a scenario's steps from its checks.
type ItemKind string

// The kinds of a scenario's items, as reports show them.
const (
	// ItemCheck observes the network and passes or fails.
	ItemCheck ItemKind = "check"
	// ItemStep changes the network (or waits for it). A step is never
	// filtered out by -run, and a failed step stops the scenario.
	ItemStep ItemKind = "step"
)

// Action is what a step does to a built network. The built-in actions
// (LinkDown, AddRoute, SetSysctl, …) are declarative and validated with the
// topology before anything is created; StepFunc makes one of Go code.
type Action interface {
	// Run applies the action to the network.
	Run(ctx context.Context, n *Network) error
	// String describes the action for reports: "set r1:eth1 down".
	String() string
}

// StepFunc is a step written as Go code.
type StepFunc func(ctx context.Context, n *Network) error

// Run calls f.
func (f StepFunc) Run(ctx context.Context, n *Network) error { return f(ctx, n) }

// String returns "Go code".
func (f StepFunc) String() string { return "Go code" }

// validatable is implemented by the built-in actions: they check their
// arguments against the resolved topology, so a mistake is reported before
// anything is created.
type validatable interface {
	validate(v *validator, p *plan, obj string)
}

// Step adds a step: an action run inside the built network, in definition
// order with the checks. Running a check always runs the steps before it;
// a failed step stops the scenario and the checks after it are reported as
// not run.
func (s *Spec) Step(name string, a Action) *Spec {
	s.checks = append(s.checks, CheckSpec{Name: name, Kind: ItemStep, Action: a, Func: stepCheck(a)})
	return s
}

// StepFunc adds a step written as Go code: s.Step(name, StepFunc(fn)).
func (s *Spec) StepFunc(name string, fn func(ctx context.Context, n *Network) error) *Spec {
	return s.Step(name, StepFunc(fn))
}

// Items returns the steps and checks in definition order.
func (s *Spec) Items() []CheckSpec { return s.checks }

// stepCheck runs an action as an item of the life cycle; the evidence of a
// step is what it did.
func stepCheck(a Action) CheckFunc {
	return func(ctx context.Context, n *Network) Result {
		if a == nil {
			return Result{Err: fmt.Errorf("step has no action")}
		}
		start := time.Now()
		var detail string
		err := n.useNodesOf(a)
		if r, ok := a.(reporter); ok && err == nil {
			detail, err = r.report(ctx, n)
		} else if err == nil {
			err = a.Run(ctx, n)
		}
		ev := a.String()
		if detail != "" {
			ev += ": " + detail
		}
		return Result{Err: err, Evidence: fmt.Sprintf("%s (took %.3fms)", ev, float64(time.Since(start))/float64(time.Millisecond))}
	}
}

// reporter is implemented by built-in actions that wait for the kernel to
// act: their evidence says what the kernel reported, and when.
type reporter interface {
	report(ctx context.Context, n *Network) (string, error)
}

// Apply validates a built-in action against the network's definition and
// runs it: the direct form of a step, for go test.
func (n *Network) Apply(ctx context.Context, a Action) error {
	if va, ok := a.(validatable); ok {
		v := &validator{s: n.spec, direct: true}
		va.validate(v, n.plan, fmt.Sprintf("action %q", a))
		if err := v.err(); err != nil {
			return err
		}
	}
	if err := n.useNodesOf(a); err != nil {
		return fmt.Errorf("scenario %q: %w", n.spec.Name, err)
	}
	if err := a.Run(ctx, n); err != nil {
		return fmt.Errorf("scenario %q: %w", n.spec.Name, err)
	}
	return nil
}

// validateItems checks every item: names, the arguments of built-in
// actions, and what declared checks name (Declare).
func (v *validator) items(p *plan) {
	seen := map[string]bool{}
	for i, c := range v.s.checks {
		kind := c.Kind
		if kind == "" {
			kind = ItemCheck
		}
		obj := fmt.Sprintf("%s %q", kind, c.Name)
		switch {
		case c.Name == "":
			v.add(fmt.Sprintf("%s #%d", kind, i+1), "has no name", "give every step and check a name")
		case !v.checkName(fmt.Sprintf("%s #%d", kind, i+1), c.Name, MaxItemName):
		case seen[c.Name]:
			v.add(obj, "is defined twice", "give each step and check a unique name (reports and -run use it)")
		}
		seen[c.Name] = true
		if c.Func == nil {
			v.add(obj, "has no function", "pass a check or an action")
		}
		if kind == ItemStep && c.Action == nil {
			v.add(obj, "has no action", "pass a built-in action or a StepFunc")
		}
		if va, ok := c.Action.(validatable); ok {
			va.validate(v, p, obj)
		}
		if r, ok := c.Action.(Referrer); ok {
			v.refs(p, obj, r.Refs())
		}
		if kind == ItemCheck {
			v.checkRefs(p, obj, c.Func)
		}
	}
}

func (v *validator) err() error { return errors.Join(v.errs...) }

// SetValue records a value under key for later steps and checks of the
// same run, e.g. counters a step snapshotted for a check to compare with.
func (n *Network) SetValue(key string, v any) { n.values.Store(key, v) }

// Value returns what SetValue recorded under key.
func (n *Network) Value(key string) (any, bool) { return n.values.Load(key) }
