package assert

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// Probe is one attempt of a time-aware check: any direct check wrapped in
// a closure, e.g.
//
//	func(ctx context.Context) (assert.Evidencer, error) {
//		return assert.Ping(ctx, client, server.IPv4(), assert.Timeout(50*time.Millisecond))
//	}
type Probe func(ctx context.Context) (Evidencer, error)

// TimedResult is the evidence of Eventually and Consistently: how many
// attempts ran, when the first pass (Eventually) or the first failure
// (Consistently) came, and the evidence of the attempt that decided.
type TimedResult struct {
	// Mode is "eventually" or "consistently".
	Mode string
	// Bound is the convergence bound (Eventually) or the stability window
	// (Consistently); Every the period between attempts.
	Bound, Every time.Duration
	Attempts     int
	// After is when the deciding attempt finished, from the start: the
	// convergence time when Eventually passed, the time of the first
	// failure when Consistently failed.
	After time.Duration
	// Passed says whether the time-aware check passed.
	Passed bool
	// Last is the evidence (and error) of the deciding or last attempt.
	Last string
}

// Evidence says how long convergence took, or how long the condition held.
func (r *TimedResult) Evidence() string {
	var s string
	switch {
	case r.Mode == "eventually" && r.Passed:
		s = fmt.Sprintf("passed after %s (attempt %d, every %v, bound %v)", ms(r.After), r.Attempts, r.Every, r.Bound)
	case r.Mode == "eventually":
		s = fmt.Sprintf("still failing after %s (%d attempts, every %v, bound %v)", ms(r.After), r.Attempts, r.Every, r.Bound)
	case r.Passed:
		s = fmt.Sprintf("held for %v (%d attempts, every %v)", r.Bound, r.Attempts, r.Every)
	default:
		s = fmt.Sprintf("broke after %s at attempt %d (window %v, every %v)", ms(r.After), r.Attempts, r.Bound, r.Every)
	}
	if r.Last != "" {
		s += "; last attempt: " + r.Last
	}
	return s
}

// defaultEvery is the period between attempts when none is given.
const defaultEvery = 20 * time.Millisecond

// attempt runs one probe and renders its evidence and error.
func attempt(ctx context.Context, p Probe) (string, error) {
	r, err := p(ctx)
	ev := evidence(r)
	if err != nil && ev == "" {
		ev = err.Error()
	} else if err != nil && !strings.Contains(err.Error(), ev) {
		ev = err.Error() + ": " + ev
	}
	return ev, err
}

// Converge runs probe every every (default 20 ms) until it passes, for at
// most within. Each attempt's context ends at the bound, so give the probe
// a timeout shorter than every for a fine-grained convergence time. It
// fails when within passes first, with the last attempt's evidence.
func Converge(ctx context.Context, within, every time.Duration, probe Probe) (*TimedResult, error) {
	if within <= 0 || every < 0 || probe == nil {
		return nil, fmt.Errorf("eventually: bound %v must be positive, period %v non-negative, probe set", within, every)
	}
	if every == 0 {
		every = defaultEvery
	}
	r := &TimedResult{Mode: "eventually", Bound: within, Every: every}
	start := time.Now()
	actx, cancel := context.WithDeadline(ctx, start.Add(within))
	defer cancel()
	for {
		r.Attempts++
		ev, err := attempt(actx, probe)
		r.After, r.Last = time.Since(start), ev
		if err == nil {
			r.Passed = true
			return r, nil
		}
		if ctx.Err() != nil {
			return r, fmt.Errorf("eventually: %w: %s", ctx.Err(), r.Evidence())
		}
		if wait(actx, every) != nil {
			return r, fmt.Errorf("not passing within %v: %s", within, r.Evidence())
		}
	}
}

// Hold runs probe every every (default 20 ms) for the whole of window and
// fails at the first attempt that fails.
func Hold(ctx context.Context, window, every time.Duration, probe Probe) (*TimedResult, error) {
	if window <= 0 || every < 0 || probe == nil {
		return nil, fmt.Errorf("consistently: window %v must be positive, period %v non-negative, probe set", window, every)
	}
	if every == 0 {
		every = defaultEvery
	}
	r := &TimedResult{Mode: "consistently", Bound: window, Every: every}
	start := time.Now()
	end := start.Add(window)
	for {
		r.Attempts++
		ev, err := attempt(ctx, probe)
		r.After, r.Last = time.Since(start), ev
		if err != nil {
			return r, fmt.Errorf("did not hold for %v: %s", window, r.Evidence())
		}
		if !time.Now().Before(end) {
			r.Passed = true
			return r, nil
		}
		// Wait for the next attempt, or for the end of the window, which
		// gets one last attempt.
		wctx, cancel := context.WithDeadline(ctx, end)
		_ = wait(wctx, every)
		cancel()
		if ctx.Err() != nil {
			return r, fmt.Errorf("consistently: %w: %s", ctx.Err(), r.Evidence())
		}
	}
}

// wait sleeps d: the period between attempts, which is the point of a
// time-aware check, not a stand-in for readiness.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// checkProbe makes a Probe of a scenario check.
func checkProbe(check scenario.CheckFunc, n *scenario.Network) Probe {
	return func(ctx context.Context) (Evidencer, error) {
		r := check(ctx, n)
		if r.Skip != "" {
			return text(r.Evidence), errors.New("skipped: " + r.Skip)
		}
		return text(r.Evidence), r.Err
	}
}

type text string

func (t text) Evidence() string { return string(t) }

// Eventually is a scenario check: check passes within the bound, tried
// every every (0: 20 ms). The evidence says how long convergence took,
// e.g. "passed after 212.000ms (attempt 11, …)".
func Eventually(check scenario.CheckFunc, within, every time.Duration) scenario.CheckFunc {
	return scenario.Declare(checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		return Converge(ctx, within, every, checkProbe(check, n))
	}), wraps(check))
}

// Consistently is a scenario check: check passes at every attempt, every
// every (0: 20 ms), for the whole window.
func Consistently(check scenario.CheckFunc, window, every time.Duration) scenario.CheckFunc {
	return scenario.Declare(checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		return Hold(ctx, window, every, checkProbe(check, n))
	}), wraps(check))
}

// Converges fails the test unless probe passes within the bound.
func Converges(t TestingT, within, every time.Duration, probe Probe) bool {
	helper(t).Helper()
	r, err := Converge(nodeContext(t), within, every, probe)
	return report(t, r, err)
}

// Holds fails the test unless probe passes at every attempt for the whole
// window.
func Holds(t TestingT, window, every time.Duration, probe Probe) bool {
	helper(t).Helper()
	r, err := Hold(nodeContext(t), window, every, probe)
	return report(t, r, err)
}
