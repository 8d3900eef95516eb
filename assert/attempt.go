package assert

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/scenario"
)

// AttemptResult is the evidence of a TCP connection attempt to a listener
// the check opened itself.
type AttemptResult struct {
	From, To string
	Dst      netip.AddrPort
	Local    netip.AddrPort
	// Verdict is how the attempt ended.
	Verdict Verdict
	// ICMP is the ICMP error that answered, with its sender (nil: none).
	ICMP *ICMPError
	// Want is the verdict expected ("": none).
	Want Verdict
	// Accepted says whether the listener accepted the connection, and
	// Peer is the address it saw it from.
	Accepted bool
	Peer     netip.AddrPort
	Err      string
	Elapsed  time.Duration
}

// Evidence renders the attempt.
func (r *AttemptResult) Evidence() string {
	var b strings.Builder
	fmt.Fprintf(&b, "TCP %s → %s (%s, listening): %s", r.From, r.Dst, r.To, r.Verdict)
	if r.ICMP != nil {
		fmt.Fprintf(&b, " (%s)", r.ICMP)
	}
	if r.Want != "" {
		fmt.Fprintf(&b, " (want %s)", r.Want)
	}
	if r.Local.IsValid() {
		fmt.Fprintf(&b, "; local %s", r.Local)
	}
	if r.Accepted {
		fmt.Fprintf(&b, "; %s accepted it from %s", r.To, r.Peer)
	}
	if r.Err != "" {
		fmt.Fprintf(&b, "; %s", r.Err)
	}
	return b.String() + "; took " + ms(r.Elapsed)
}

// TCPAttempt opens a TCP listener in node to on listen (address and port;
// an unspecified address listens on all), dials dst from node from, and
// returns how the attempt ended (its Verdict, and the ICMP error that
// answered, seen by a raw socket in from). It fails only if the attempt
// could not be made; judging the verdict is the caller's. Timeout (default
// 1 s) bounds the dial: a silent drop ends as Filtered.
func TCPAttempt(ctx context.Context, from, to *scenario.Node, dst, listen netip.AddrPort, opts ...Option) (*AttemptResult, error) {
	o, err := build(connDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("tcp: %w", err)
	}
	r := &AttemptResult{From: from.Name(), To: to.Name(), Dst: dst}
	var ln *net.TCPListener
	err = inside.Do(to, func() (err error) {
		network := "tcp6"
		if listen.Addr().Is4() {
			network = "tcp4"
		}
		ln, err = net.ListenTCP(network, net.TCPAddrFromAddrPort(listen))
		return err
	})
	if err != nil {
		return r, fmt.Errorf("tcp: listen on %s in %s: %w", listen, to.Name(), err)
	}
	defer ln.Close()
	accepted := make(chan netip.AddrPort, 1)
	go func() {
		c, err := ln.AcceptTCP()
		if err != nil {
			return
		}
		ap := c.RemoteAddr().(*net.TCPAddr).AddrPort()
		accepted <- netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		c.Close()
	}()
	watch, err := openICMPWatch(from, dst.Addr().Is6())
	if err != nil {
		return r, fmt.Errorf("tcp: %w", err)
	}
	defer watch.Close()
	start := time.Now()
	dctx, cancel := context.WithDeadline(ctx, earliest(ctx, start.Add(o.Timeout)))
	defer cancel()
	c, err := dialTCP(dctx, from, o.Source, dst)
	r.Elapsed = time.Since(start)
	if err != nil {
		// An ICMP error reaches the raw socket before TCP handles it,
		// so it is queued by now if one came.
		var answered *ICMPError
		if e, found := watch.find(dst, false, time.Now().Add(20*time.Millisecond)); found {
			answered = &e
		}
		v, detail, ok := verdictOf(err, answered, dst.Addr(), false)
		if !ok {
			return r, fmt.Errorf("tcp: dial %s from %s: %w", dst, from.Name(), err)
		}
		r.Verdict, r.ICMP, r.Err = v, answered, err.Error()
		if detail != "" && !strings.Contains(detail, r.Err) {
			r.Err = detail + "; " + r.Err
		}
		return r, nil
	}
	defer c.Close()
	r.Local = c.LocalAddr().(*net.TCPAddr).AddrPort()
	r.Verdict = Allowed
	select {
	case r.Peer = <-accepted:
		r.Accepted = true
	case <-time.After(max(o.Timeout-r.Elapsed, 0)):
		// Connected but never accepted here: something else answered.
	}
	return r, nil
}

// ConnectOutcome is a scenario check: a TCP connection from → to:port, to a
// listener the check opens in to on that port, ends with the verdict want:
// Allowed, Refused, Rejected, Filtered or NoRoute. It tells a refusal
// (reset or ICMP port unreachable) from a rejection (another ICMP error,
// named with its sender in the evidence) and from a silent drop.
func ConnectOutcome(from string, to Target, port int, want Verdict, opts ...Option) scenario.CheckFunc {
	return declare("ConnectOutcome", connReads, opts, verdictRefs("ConnectOutcome", names([]string{from}, to), want), endWithWalk(from, to, opts, checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		src := n.Node(from)
		dst, err := resolveFor(n, src, to, opts)
		if err != nil {
			return nil, err
		}
		owner := ownerNode(n, dst)
		if owner == nil {
			return nil, fmt.Errorf("tcp: no node of scenario %q owns %s to listen on", n.Spec().Name, dst)
		}
		ap := netip.AddrPortFrom(dst, uint16(port))
		r, err := TCPAttempt(ctx, src, owner, ap, ap, opts...)
		if err != nil {
			return r, err
		}
		return r, judgeAttempt(r, want)
	}), nil))
}

// ConnectEndsAs fails the test unless a TCP connection from → to:port (a
// listener opened in to) ends with the verdict want.
//
// Deprecated: use assert.Check(t, n, assert.ConnectOutcome(…)).
func ConnectEndsAs(t TestingT, from, to *scenario.Node, dst netip.Addr, port int, want Verdict, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, from.Network(), ConnectOutcome(from.Name(), dst, port, want, opts...)) // to owns dst: it listens there
}

func judgeAttempt(r *AttemptResult, want Verdict) error {
	if err := validVerdict(want); err != nil {
		return fmt.Errorf("tcp: want: %w", err)
	}
	r.Want = want
	if r.Verdict != want {
		return fmt.Errorf("TCP %s → %s ended %s, want %s: %s", r.From, r.Dst, r.Verdict, want, r.Evidence())
	}
	return nil
}

// ownerNode returns the node holding address a.
func ownerNode(n *scenario.Network, a netip.Addr) *scenario.Node {
	for _, nd := range n.Nodes() {
		for _, ifc := range nd.Interfaces() {
			for _, p := range ifc.Addrs {
				if p.Addr() == a {
					return nd
				}
			}
		}
	}
	return nil
}

// counted is the evidence of Counted: the inner check's and the counter's.
type counted struct {
	inner         string
	node, rule    string
	before, after scenario.Counter
	// want is the least rise, or with exact the only one that passes.
	want  uint64
	exact bool
}

func (c *counted) Evidence() string {
	s := fmt.Sprintf("rule %q on %s counted +%d packets (%s → %s)", c.rule, c.node, c.after.Packets-c.before.Packets, c.before, c.after)
	if c.exact {
		s += fmt.Sprintf("; want exactly +%d", c.want)
	}
	if c.inner != "" {
		s = c.inner + "\n" + s
	}
	return s
}

// Counted wraps a check: it passes only if the check passes and the
// counter of the firewall or NAT rule called rule on node rose by at least
// one packet while the check ran. It shows which rule decided, and fails
// when a rule that should act matches nothing. NAT rules count the first
// packet of each connection only.
func Counted(node, rule string, check scenario.CheckFunc) scenario.CheckFunc {
	return countedDuring(counted{node: node, rule: rule, want: 1}, check)
}

// countedDuring runs check between two readings of the rule's counter and
// judges the rise against c.want.
func countedDuring(c counted, check scenario.CheckFunc) scenario.CheckFunc {
	return scenario.Declare(func(ctx context.Context, n *scenario.Network) scenario.Result {
		c := c // one reading per run
		nd := n.Node(c.node)
		var err error
		if c.before, err = nd.RuleCounter(c.rule); err != nil {
			return scenario.Verdict("", err)
		}
		r := check(ctx, n)
		c.inner = r.Evidence
		if c.after, err = nd.RuleCounter(c.rule); err != nil {
			return scenario.Verdict(c.inner, err)
		}
		if r.Err != nil || r.Skip != "" {
			r.Evidence = c.Evidence()
			return r
		}
		switch rise := c.after.Packets - c.before.Packets; {
		case c.exact && rise != c.want:
			return scenario.Verdict(c.Evidence(), fmt.Errorf("rule %q on %s counted %d packets while the check ran, want exactly %d", c.rule, c.node, rise, c.want))
		case !c.exact && rise < c.want:
			return scenario.Verdict(c.Evidence(), fmt.Errorf("rule %q on %s matched nothing while the check ran", c.rule, c.node))
		}
		return scenario.Verdict(c.Evidence(), nil)
	}, wraps(check, c.node))
}
