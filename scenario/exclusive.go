package scenario

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Machine is what a runner lends to a timing-sensitive check: the whole
// machine, with no other scenario in flight. Runners put one into each
// scenario's context (WithMachine); Exclusive asks it.
type Machine interface {
	// Acquire blocks until no other scenario of the run is in flight and
	// returns a function that gives the machine back.
	Acquire(ctx context.Context) (release func(), err error)
}

type machineKey struct{}

// WithMachine returns a context whose checks get the machine from m.
func WithMachine(ctx context.Context, m Machine) context.Context {
	return context.WithValue(ctx, machineKey{}, m)
}

// Exclusive is called by a timing-sensitive check (latency bounds,
// throughput, or a check of your own whose verdict depends on timing)
// before it measures: it waits until the runner has stopped starting
// scenarios and every other one has finished or is itself waiting here,
// so the measurement does not share the CPUs with other scenarios. It
// returns the function that ends the exclusive use, and a note for the
// check's evidence. Outside a runner (go test) it returns at once and says
// so. Parallelism elsewhere is unchanged.
func Exclusive(ctx context.Context) (release func(), note string, err error) {
	m, ok := ctx.Value(machineKey{}).(Machine)
	if !ok {
		return func() {}, "not exclusive: no vtest runner schedules this check", nil
	}
	start := time.Now()
	release, err = m.Acquire(ctx)
	if err != nil {
		return func() {}, "", fmt.Errorf("waiting for the machine to itself: %w", err)
	}
	waited := time.Since(start).Round(time.Millisecond)
	if sc, ok := m.(interface{ scope() string }); ok && sc.scope() != "" {
		return release, fmt.Sprintf("%s (waited %s)", sc.scope(), waited), nil
	}
	return release, fmt.Sprintf("ran alone: no other scenario in flight and no other check of its scenario running (waited %s for the machine)", waited), nil
}

// InconclusiveError is a timing check's verdict when the machine, not the
// network, decided the figure: the same-moment baseline (e.g. the node's
// loopback round trip) is itself too slow for the bound. Checks report it
// as a skip with the reason, never a pass and never a fail, unless the run
// treats inconclusive as failure (RunOptions.InconclusiveFails, vtest run
// -inconclusive fail, VTEST_INCONCLUSIVE=fail).
type InconclusiveError struct {
	Reason string
}

func (e *InconclusiveError) Error() string { return "inconclusive: " + e.Reason }

// IsInconclusive reports whether err is (or wraps) an InconclusiveError.
func IsInconclusive(err error) bool {
	var ie *InconclusiveError
	return errors.As(err, &ie)
}
