package assert

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// Outcomes of a connection attempt, as TCPAttempt classifies them (with
// Refused: a TCP reset or an ICMP port unreachable).
const (
	Connected = "connected"
	// HostUnreachable: an ICMP host or network unreachable, or prohibited.
	HostUnreachable = "unreachable"
	// TimedOut: no answer at all, as when a firewall drops silently.
	TimedOut = "timeout"
)

// AttemptResult is the evidence of a TCP connection attempt to a listener
// the check opened itself.
type AttemptResult struct {
	From, To string
	Dst      netip.AddrPort
	Local    netip.AddrPort
	// Outcome is Connected, Refused, HostUnreachable, TimedOut or "error".
	Outcome string
	// Want is the outcome expected.
	Want string
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
	fmt.Fprintf(&b, "TCP %s → %s (%s, listening): %s", r.From, r.Dst, r.To, r.Outcome)
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
// returns how the attempt ended. It fails only if the attempt could not be
// made; judging the outcome is the caller's. Timeout (default 1 s) bounds
// the dial: a silent drop ends as TimedOut.
func TCPAttempt(ctx context.Context, from, to *scenario.Node, dst, listen netip.AddrPort, opts ...Option) (*AttemptResult, error) {
	o, err := build(connDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("tcp: %w", err)
	}
	r := &AttemptResult{From: from.Name(), To: to.Name(), Dst: dst}
	var ln *net.TCPListener
	err = to.Do(func() (err error) {
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
	start := time.Now()
	dctx, cancel := context.WithDeadline(ctx, earliest(ctx, start.Add(o.Timeout)))
	defer cancel()
	c, err := dialTCP(dctx, from, o.Source, dst)
	r.Elapsed = time.Since(start)
	if err != nil {
		r.Outcome, r.Err = classify(err), err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			r.Outcome = TimedOut
		}
		return r, nil
	}
	defer c.Close()
	r.Local = c.LocalAddr().(*net.TCPAddr).AddrPort()
	r.Outcome = Connected
	select {
	case r.Peer = <-accepted:
		r.Accepted = true
	case <-time.After(max(o.Timeout-r.Elapsed, 0)):
		// Connected but never accepted here: something else answered.
	}
	return r, nil
}

// ConnectOutcome is a scenario check: a TCP connection from → to:port, to a
// listener the check opens in to on that port, ends with want: Connected,
// Refused, HostUnreachable or TimedOut. It tells a refusal (reset or ICMP) from
// a silent drop.
func ConnectOutcome(from string, to Target, port int, want string, opts ...Option) scenario.CheckFunc {
	return declare("ConnectOutcome", connReads, opts, names([]string{from}, to), endWithWalk(from, to, opts, checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
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
// listener opened in to) ends with want.
func ConnectEndsAs(t TestingT, from, to *scenario.Node, dst netip.Addr, port int, want string, opts ...Option) bool {
	helper(t).Helper()
	ap := netip.AddrPortFrom(dst, uint16(port))
	r, err := TCPAttempt(nodeContext(t), from, to, ap, ap, opts...)
	if err == nil {
		err = judgeAttempt(r, want)
	}
	return report(t, r, err)
}

func judgeAttempt(r *AttemptResult, want string) error {
	r.Want = want
	if r.Outcome != want {
		return fmt.Errorf("TCP %s → %s ended %s, want %s: %s", r.From, r.Dst, r.Outcome, want, r.Evidence())
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
	min           uint64
}

func (c *counted) Evidence() string {
	s := fmt.Sprintf("rule %q on %s counted +%d packets (%s → %s)", c.rule, c.node, c.after.Packets-c.before.Packets, c.before, c.after)
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
	return scenario.Declare(func(ctx context.Context, n *scenario.Network) scenario.Result {
		nd := n.Node(node)
		c := &counted{node: node, rule: rule, min: 1}
		var err error
		if c.before, err = nd.RuleCounter(rule); err != nil {
			return scenario.Verdict("", err)
		}
		r := check(ctx, n)
		c.inner = r.Evidence
		if c.after, err = nd.RuleCounter(rule); err != nil {
			return scenario.Verdict(c.inner, err)
		}
		if r.Err != nil || r.Skip != "" {
			r.Evidence = c.Evidence()
			return r
		}
		if c.after.Packets-c.before.Packets < c.min {
			return scenario.Verdict(c.Evidence(), fmt.Errorf("rule %q on %s matched nothing while the check ran", rule, node))
		}
		return scenario.Verdict(c.Evidence(), nil)
	}, wraps(check, node))
}
