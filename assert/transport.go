package assert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/scenario"
)

// ConnResult is the evidence of a TCP connect or UDP echo check.
type ConnResult struct {
	Proto string
	From  string
	Dst   netip.AddrPort
	Local netip.AddrPort
	// Verdict is how the attempt ended: Allowed (connected, or the echo
	// came back), Refused, Rejected, Filtered (no reply) or NoRoute.
	Verdict Verdict
	// ICMP is the ICMP error that answered, with its sender (nil: none).
	ICMP    *ICMPError
	Err     string
	Elapsed time.Duration
}

// Evidence renders the attempt.
func (r *ConnResult) Evidence() string {
	s := fmt.Sprintf("%s %s → %s: %s", r.Proto, r.From, r.Dst, r.Verdict)
	if r.ICMP != nil {
		s += " (" + r.ICMP.String() + ")"
	}
	if r.Local.IsValid() {
		s += fmt.Sprintf(" (local %s)", r.Local)
	}
	if r.Err != "" {
		s += " (" + r.Err + ")"
	}
	return s + "; took " + ms(r.Elapsed)
}

var connDefaults = Options{Timeout: time.Second}

// dialTCP connects from node from to dst, from source if it is valid. The
// socket must be created inside the node; DialContext creates it on the
// calling thread, so the whole dial runs in Do.
func dialTCP(ctx context.Context, from *scenario.Node, source netip.Addr, dst netip.AddrPort) (net.Conn, error) {
	var c net.Conn
	err := inside.Do(from, func() (err error) {
		d := net.Dialer{}
		if source.IsValid() {
			d.LocalAddr = &net.TCPAddr{IP: source.AsSlice()}
		}
		c, err = d.DialContext(ctx, "tcp", dst.String())
		return err
	})
	return c, err
}

// AttemptError is the error of a connection attempt (TCPConnect, UDPEcho)
// that did not connect: how it ended, and the message saying so.
type AttemptError struct {
	// Verdict is how the attempt ended (Refused, Rejected, Filtered,
	// NoRoute).
	Verdict Verdict
	msg     string
}

// Error returns the attempt's message, its evidence included.
func (e *AttemptError) Error() string { return e.msg }

// TCPConnect opens a TCP connection from a node to dst:Port (a listener the
// scenario started in the target) and closes it. It fails unless the
// connection is established within Timeout (default 1 s).
func TCPConnect(ctx context.Context, from *scenario.Node, dst netip.Addr, opts ...Option) (*ConnResult, error) {
	o, err := build(connDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("tcp: %w", err)
	}
	if o.Port == 0 {
		return nil, errors.New("tcp: no port: pass assert.Port(n)")
	}
	r := &ConnResult{Proto: "TCP", From: from.Name(), Dst: netip.AddrPortFrom(dst, uint16(o.Port))}
	watch, err := openICMPWatch(from, dst.Is6())
	if err != nil {
		return r, fmt.Errorf("tcp: %w", err)
	}
	defer watch.Close()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	c, err := dialTCP(ctx, from, o.Source, r.Dst)
	r.Elapsed = time.Since(start)
	if err != nil {
		if err := r.ended(watch, err, false); err != nil {
			return r, err
		}
		return r, &AttemptError{Verdict: r.Verdict, msg: fmt.Sprintf("tcp %s → %s failed: %s", from.Name(), r.Dst, r.Evidence())}
	}
	r.Local = c.LocalAddr().(*net.TCPAddr).AddrPort()
	r.Verdict = Allowed
	c.Close()
	return r, nil
}

// UDPEcho sends a datagram from a node to dst:Port (an echo service the
// scenario started in the target) and fails unless the same payload comes
// back within Timeout (default 1 s).
func UDPEcho(ctx context.Context, from *scenario.Node, dst netip.Addr, opts ...Option) (*ConnResult, error) {
	o, err := build(connDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("udp: %w", err)
	}
	if o.Port == 0 {
		return nil, errors.New("udp: no port: pass assert.Port(n)")
	}
	start := time.Now()
	r := &ConnResult{Proto: "UDP", From: from.Name(), Dst: netip.AddrPortFrom(dst, uint16(o.Port))}
	watch, err := openICMPWatch(from, dst.Is6())
	if err != nil {
		return r, fmt.Errorf("udp: %w", err)
	}
	defer watch.Close()
	var c *net.UDPConn
	err = inside.Do(from, func() (err error) {
		c, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(r.Dst))
		return err
	})
	if err != nil {
		return r, fmt.Errorf("udp: socket in %s: %w", from.Name(), err)
	}
	defer c.Close()
	r.Local = c.LocalAddr().(*net.UDPAddr).AddrPort()
	deadline := earliest(ctx, start.Add(o.Timeout))
	_ = c.SetDeadline(deadline)
	payload := []byte(fmt.Sprintf("vtest echo %d", start.UnixNano()))
	_, err = c.Write(payload)
	buf := make([]byte, 2048)
	for err == nil {
		var n int
		n, err = c.Read(buf)
		if err == nil && bytes.Equal(buf[:n], payload) {
			break
		}
	}
	r.Elapsed = time.Since(start)
	if err != nil {
		if err := r.ended(watch, err, true); err != nil {
			return r, err
		}
		return r, &AttemptError{Verdict: r.Verdict, msg: fmt.Sprintf("udp echo %s → %s failed: %s", from.Name(), r.Dst, r.Evidence())}
	}
	r.Verdict = Allowed
	return r, nil
}

// ended records how a failed attempt ended: its verdict from the socket's
// error and the ICMP error that answered it, if any (queued in watch by
// now: an ICMP error reaches the raw socket before the transport handles
// it). It returns an error only when the socket's error says nothing of
// the network.
func (r *ConnResult) ended(watch *icmpWatch, sockErr error, udp bool) error {
	var answered *ICMPError
	if e, found := watch.find(r.Dst, udp, time.Now().Add(20*time.Millisecond)); found {
		answered = &e
	}
	v, detail, ok := verdictOf(sockErr, answered, r.Dst.Addr(), udp)
	if !ok {
		return fmt.Errorf("%s %s → %s: %w", strings.ToLower(r.Proto), r.From, r.Dst, sockErr)
	}
	r.Verdict, r.ICMP = v, answered
	switch {
	case v == Filtered && isTimeout(sockErr):
		r.Err = detail // "nothing came back"
	case detail != "" && !strings.Contains(detail, sockErr.Error()):
		r.Err = detail + "; " + sockErr.Error()
	default:
		r.Err = sockErr.Error()
	}
	return nil
}

// Connects is a scenario check: a TCP connection from → to:port succeeds.
func Connects(from string, to Target, port int, opts ...Option) scenario.CheckFunc {
	return named("Connects", connReads, TCPConnect, from, to, opts, Port(port))
}

// Echoes is a scenario check: a UDP datagram from → to:port comes back.
func Echoes(from string, to Target, port int, opts ...Option) scenario.CheckFunc {
	return named("Echoes", connReads, UDPEcho, from, to, opts, Port(port))
}

// CanConnect fails the test unless a TCP connection from → to:port
// succeeds.
func CanConnect(t TestingT, from *scenario.Node, to Target, port int, opts ...Option) bool {
	helper(t).Helper()
	return inTest(t, TCPConnect, from, to, append(opts, Port(port)))
}
