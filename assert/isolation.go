package assert

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// IsolationResult is the evidence of an unreachability check.
type IsolationResult struct {
	From string
	To   netip.Addr
	// Verdict is NoRoute, Rejected or Filtered (no reply) when isolated,
	// and Allowed when an echo reply came.
	Verdict Verdict
	// ICMP is the first ICMP error that answered the probes (nil: none).
	ICMP *ICMPError
	// Because is the verdict wanted (see Because; "": any but Allowed).
	Because Verdict
	// Route is the kernel's route lookup from the source.
	Route string
	Sent  int
	// Answers are the ICMP messages that answered the probes.
	Answers []string
	Elapsed time.Duration
	Timeout time.Duration
}

// Evidence renders the result.
func (r *IsolationResult) Evidence() string {
	ans := "none"
	if len(r.Answers) > 0 {
		ans = strings.Join(r.Answers, ", ")
	}
	v := string(r.Verdict)
	switch r.Verdict {
	case Filtered:
		v += " (no reply)"
	case Allowed:
		v += " (reachable)"
	}
	if r.Because != "" {
		v += " (want " + string(r.Because) + ")"
	}
	return fmt.Sprintf("%s → %s: %s; route: %s; %d echo request(s) sent, answers: %s; took %s of %s",
		r.From, r.To, v, r.Route, r.Sent, ans, ms(r.Elapsed), ms(r.Timeout))
}

// closeReserve is the part of an isolation check's timeout kept for
// returning after the last read.
const closeReserve = 5 * time.Millisecond

var isolationDefaults = Options{Count: 3, Interval: 100 * time.Millisecond, Timeout: 500 * time.Millisecond}

// Isolated checks that to cannot be reached from a node: no echo reply
// comes back within Timeout (default 500 ms) after Count probes (default 3,
// Interval 100 ms apart). It never takes longer than Timeout: it listens
// until 5 ms before it. A reply that comes late, but within that window,
// still counts as reachable. The
// evidence says why it is unreachable, as a Verdict: NoRoute (no route in
// the source), Rejected (an ICMP error, and who sent it) or Filtered (no
// reply). With Because, it fails unless that is the reason.
func Isolated(ctx context.Context, from *scenario.Node, to netip.Addr, opts ...Option) (*IsolationResult, error) {
	o, err := build(isolationDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("isolation: %w", err)
	}
	if err := validBecause(o.Because); err != nil {
		return nil, fmt.Errorf("isolation: %w", err)
	}
	start := time.Now()
	r := &IsolationResult{From: from.Name(), To: to, Timeout: o.Timeout, Route: routeTo(from, to), Because: o.Because}
	defer func() { r.Elapsed = time.Since(start) }()
	if strings.HasPrefix(r.Route, "no route") {
		r.Verdict = NoRoute
		return r, r.because(from)
	}
	p, err := openProber(from, to.Is6())
	if err != nil {
		return r, err
	}
	defer p.Close()
	// Stop listening a little before the timeout so that closing the
	// socket and returning also fit in it.
	deadline := earliest(ctx, start.Add(o.Timeout-min(closeReserve, o.Timeout/10)))
	count := max(o.Count, 1)
	nextSend := start
	for time.Now().Before(deadline) {
		if r.Sent < count && !time.Now().Before(nextSend) {
			if err := p.send(to, r.Sent+1, 64); err != nil {
				// The kernel refused to send: that is a local verdict.
				r.Answers = append(r.Answers, "send failed: "+err.Error())
				r.Verdict = Rejected
				return r, r.because(from)
			}
			r.Sent++
			nextSend = time.Now().Add(o.Interval)
		}
		until := deadline
		if r.Sent < count && nextSend.Before(until) {
			until = nextSend
		}
		rep, err := p.read(until)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return r, fmt.Errorf("isolation: read: %w", err)
		}
		r.Answers = append(r.Answers, rep.String())
		if rep.kind == echoReply {
			r.Verdict = Allowed
			return r, failf(r, "%s reached %s, want it unreachable", from.Name(), to)
		}
		if r.ICMP == nil {
			e := rep.icmpError(to.Is6())
			r.ICMP = &e
		}
	}
	r.Verdict = Filtered
	if len(r.Answers) > 0 {
		r.Verdict = Rejected
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	return r, r.because(from)
}

// because fails an isolated result whose reason is not the one wanted.
func (r *IsolationResult) because(from *scenario.Node) error {
	if r.Because == "" || r.Verdict == r.Because {
		return nil
	}
	return failf(r, "%s does not reach %s, but %s, want %s", from.Name(), r.To, r.Verdict, r.Because)
}

// validBecause refuses a reason for isolation that is not one.
func validBecause(v Verdict) error {
	switch v {
	case "", NoRoute, Rejected, Filtered:
		return nil
	}
	return fmt.Errorf("because %q: want assert.NoRoute, Rejected or Filtered", string(v))
}

// NoReach is a scenario check: from cannot reach to (a node name or an
// address) by ICMP echo. With Because(v) it also requires why: NoRoute,
// Rejected or Filtered (see Isolated):
//
//	assert.NoReach("client", "server", assert.Because(assert.Rejected))
func NoReach(from string, to Target, opts ...Option) scenario.CheckFunc {
	return named("NoReach", isolationReads, Isolated, from, to, opts)
}

// Unreachable fails the test if from reaches to by ICMP echo.
func Unreachable(t TestingT, from *scenario.Node, to Target, opts ...Option) bool {
	helper(t).Helper()
	return inTest(t, Isolated, from, to, opts)
}
