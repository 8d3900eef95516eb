package assert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
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
	// Outcome is "connected", "echoed", "refused", "unreachable",
	// "no reply" or "timeout".
	Outcome string
	Err     string
	Elapsed time.Duration
}

// Evidence renders the attempt.
func (r *ConnResult) Evidence() string {
	s := fmt.Sprintf("%s %s → %s: %s", r.Proto, r.From, r.Dst, r.Outcome)
	if r.Local.IsValid() {
		s += fmt.Sprintf(" (local %s)", r.Local)
	}
	if r.Err != "" {
		s += " (" + r.Err + ")"
	}
	return s + "; took " + ms(r.Elapsed)
}

var connDefaults = Options{Timeout: time.Second}

func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EACCES):
		return "unreachable"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "error"
}

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
	start := time.Now()
	r := &ConnResult{Proto: "TCP", From: from.Name(), Dst: netip.AddrPortFrom(dst, uint16(o.Port))}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	c, err := dialTCP(ctx, from, o.Source, r.Dst)
	r.Elapsed = time.Since(start)
	if err != nil {
		r.Outcome, r.Err = classify(err), err.Error()
		return r, fmt.Errorf("tcp %s → %s failed: %s", from.Name(), r.Dst, r.Evidence())
	}
	r.Local = c.LocalAddr().(*net.TCPAddr).AddrPort()
	r.Outcome = "connected"
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
		r.Outcome, r.Err = classify(err), err.Error()
		if r.Outcome == "timeout" {
			r.Outcome, r.Err = "no reply", ""
		}
		return r, fmt.Errorf("udp echo %s → %s failed: %s", from.Name(), r.Dst, r.Evidence())
	}
	r.Outcome = "echoed"
	return r, nil
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
