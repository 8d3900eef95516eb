package assert

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// Summary holds statistics of a set of round-trip times.
type Summary struct {
	N                            int
	Min, Avg, P50, P90, P99, Max time.Duration
	StdDev                       time.Duration // population standard deviation
}

// Summarize computes a Summary. Percentiles use the nearest-rank method.
func Summarize(rtts []time.Duration) Summary {
	s := Summary{N: len(rtts)}
	if len(rtts) == 0 {
		return s
	}
	sorted := slices.Clone(rtts)
	slices.Sort(sorted)
	var sum float64
	for _, d := range sorted {
		sum += float64(d)
	}
	mean := sum / float64(len(sorted))
	var sq float64
	for _, d := range sorted {
		sq += (float64(d) - mean) * (float64(d) - mean)
	}
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(sorted)))) - 1
		return sorted[max(0, min(i, len(sorted)-1))]
	}
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	s.Avg = time.Duration(mean)
	s.P50, s.P90, s.P99 = rank(0.50), rank(0.90), rank(0.99)
	s.StdDev = time.Duration(math.Sqrt(sq / float64(len(sorted))))
	return s
}

// String renders every statistic, in milliseconds.
func (s Summary) String() string {
	return fmt.Sprintf("min %s avg %s p50 %s p90 %s p99 %s max %s stddev %s (n=%d)",
		ms(s.Min), ms(s.Avg), ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Max), ms(s.StdDev), s.N)
}

// Stat names one statistic of a Summary, for thresholds.
type Stat string

// The statistics a threshold can apply to.
const (
	Min    Stat = "min"
	Avg    Stat = "avg"
	P50    Stat = "p50"
	P90    Stat = "p90"
	P99    Stat = "p99"
	Max    Stat = "max"
	StdDev Stat = "stddev"
)

func (s Summary) get(st Stat) (time.Duration, error) {
	switch st {
	case Min:
		return s.Min, nil
	case Avg:
		return s.Avg, nil
	case P50:
		return s.P50, nil
	case P90:
		return s.P90, nil
	case P99:
		return s.P99, nil
	case Max:
		return s.Max, nil
	case StdDev:
		return s.StdDev, nil
	}
	return 0, fmt.Errorf("unknown statistic %q", st)
}

// Bound is a latency threshold: Stat must be below At (Below) or at least
// At (AtLeast).
type Bound struct {
	Stat    Stat
	At      time.Duration
	AtLeast bool
}

// Below requires a statistic to be strictly below d.
func Below(st Stat, d time.Duration) Bound { return Bound{Stat: st, At: d} }

// AtLeast requires a statistic to be at least d (e.g. netem delay applied).
func AtLeast(st Stat, d time.Duration) Bound { return Bound{Stat: st, At: d, AtLeast: true} }

// String renders the bound, e.g. "p90 < 5.000ms".
func (b Bound) String() string {
	if b.AtLeast {
		return fmt.Sprintf("%s ≥ %s", b.Stat, ms(b.At))
	}
	return fmt.Sprintf("%s < %s", b.Stat, ms(b.At))
}

// LatencyResult is the evidence of a latency check.
type LatencyResult struct {
	Ping    *PingResult
	Summary Summary
	Bounds  []Bound
	// Baseline summarises the round trips to the source node's own
	// loopback, measured at the same moment: the cost of measuring
	// (the echo socket, the scheduler, the stack) without the network.
	Baseline Summary
	// Machine says whether the check had the machine to itself.
	Machine string
}

// Evidence renders the statistics, the baseline and the bounds.
func (r *LatencyResult) Evidence() string {
	s := fmt.Sprintf("latency %s→%s: %s, loss %.0f%% (%d/%d); bounds %v",
		r.Ping.From, r.Ping.To, r.Summary, 100*r.Ping.Loss(), r.Ping.Sent-r.Ping.Received, r.Ping.Sent, r.Bounds)
	if r.Baseline.N > 0 {
		s += fmt.Sprintf("; loopback baseline (measurement overhead, same moment): %s", r.Baseline)
		for _, b := range r.Bounds {
			v, _ := r.Summary.get(b.Stat)
			base, _ := r.Baseline.get(b.Stat)
			s += fmt.Sprintf("; network ≈ %s %s − %s = %s", b.Stat, ms(v), ms(base), ms(max(0, v-base)))
		}
	}
	if r.Machine != "" {
		s += "; " + r.Machine
	}
	return s
}

var latencyDefaults = Options{Count: 20, Interval: 2 * time.Millisecond, Timeout: 5 * time.Second, Warmup: 1}

// Latency sends Count echo probes (default 20, 2 ms apart, after one
// uncounted warm-up probe that pays for ARP) and checks the round-trip
// statistics against the bounds and the loss tolerance (default 0).
//
// Round trips are measured in user space, from just before the request is
// sent to just after the reply is read: on a veth they read like iputils
// ping's (medians 0.04–0.05 ms against its 0.07 ms average on the 2-core
// CI machine), but their tail grows under -race or load. Bounds below 1 ms
// are noise; use latency checks for milliseconds and more (netem delays,
// rate limits), not for microseconds.
func Latency(ctx context.Context, from *scenario.Node, to netip.Addr, bounds []Bound, opts ...Option) (*LatencyResult, error) {
	o, err := build(latencyDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("latency: %w", err)
	}
	for _, b := range bounds {
		if _, err := (Summary{}).get(b.Stat); err != nil {
			return nil, fmt.Errorf("latency: %w", err)
		}
	}
	if o.Count == 0 {
		return nil, fmt.Errorf("latency: count must be positive")
	}
	release, note, err := scenario.Exclusive(ctx)
	if err != nil {
		return nil, fmt.Errorf("latency: %w", err)
	}
	defer release()
	// The baseline runs beside the measurement: the loopback round trip in
	// the source node is what the machine alone costs at this moment.
	var base *PingResult
	baseDone := make(chan struct{})
	go func() {
		defer close(baseDone)
		bo := o
		bo.Warmup, bo.Loss, bo.Source, bo.Interface = 0, 1, netip.Addr{}, ""
		loop := netip.MustParseAddr("127.0.0.1")
		if to.Is6() && !to.Is4In6() {
			loop = netip.IPv6Loopback()
		}
		base, _ = ping(ctx, from, loop, bo)
	}()
	p, err := ping(ctx, from, to, o)
	<-baseDone
	r := &LatencyResult{Ping: p, Bounds: bounds, Machine: note}
	if p != nil {
		r.Summary = Summarize(p.RTTs)
	}
	if base != nil {
		r.Baseline = Summarize(base.RTTs)
	}
	if err != nil {
		return r, err
	}
	if need := o.Count - int(float64(o.Count)*o.Loss); p.Received < need || p.Received == 0 {
		return r, fmt.Errorf("latency %s→%s: too much loss: %s", from.Name(), to, r.Evidence())
	}
	return r, r.verdict()
}

// verdict applies the bounds. A lower bound (AtLeast) is met by the figure
// itself: the delay it asks for is in every round trip, the measurement's
// overhead only adds to it. An upper bound (Below) the figure misses is a
// failure only if the network's share of it (the figure minus the loopback
// baseline of the same statistic, measured at the same moment) misses it
// too; otherwise the machine, not the network, was slow, and the verdict is
// inconclusive: a busy CI machine must not turn a test red.
func (r *LatencyResult) verdict() error {
	from, to := r.Ping.From, r.Ping.To
	for _, b := range r.Bounds {
		v, _ := r.Summary.get(b.Stat)
		base, _ := r.Baseline.get(b.Stat)
		network := max(0, v-base)
		switch {
		case b.AtLeast && v >= b.At, !b.AtLeast && v < b.At:
			continue
		case b.AtLeast, network >= b.At:
			return fmt.Errorf("latency %s→%s: %s is %s, want %s: %s", from, to, b.Stat, ms(v), b, r.Evidence())
		}
		return &scenario.InconclusiveError{Reason: fmt.Sprintf("machine too busy (loopback baseline %s %s): latency %s→%s %s is %s, want %s, but the network's share is %s: %s",
			b.Stat, ms(base), from, to, b.Stat, ms(v), b, ms(network), r.Evidence())}
	}
	return nil
}

// latencyOf binds the bounds of a latency check.
func latencyOf(bounds []Bound) direct[*LatencyResult] {
	return func(ctx context.Context, from *scenario.Node, to netip.Addr, opts ...Option) (*LatencyResult, error) {
		return Latency(ctx, from, to, bounds, opts...)
	}
}

// LatencyWithin is a scenario check: the latency from → to meets every bound.
func LatencyWithin(from string, to Target, bounds []Bound, opts ...Option) scenario.CheckFunc {
	return named("LatencyWithin", pingReads, latencyOf(bounds), from, to, opts)
}

// LatencyMeets fails the test unless the latency from → to meets every
// bound.
//
// Deprecated: use assert.Check(t, n, assert.LatencyWithin(…)).
func LatencyMeets(t TestingT, from *scenario.Node, to Target, bounds []Bound, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, from.Network(), LatencyWithin(from.Name(), to, bounds, opts...))
}
