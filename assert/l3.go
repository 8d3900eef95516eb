package assert

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// PortForwarded is a scenario check for DNAT: a TCP connection from client
// to the router's address to:port reaches a listener the check opens in
// server on serverPort, and the server sees the client's own address as
// the peer (the forward rewrote the destination only).
func PortForwarded(client string, to Target, port int, server string, serverPort int, opts ...Option) scenario.CheckFunc {
	return checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		src, srv := n.Node(client), n.Node(server)
		o, _ := build(Options{}, opts)
		dst, err := resolve(n, src, to, o.IPv6)
		if err != nil {
			return nil, err
		}
		listen := netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(serverPort))
		if dst.Is6() {
			listen = netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(serverPort))
		}
		r, err := TCPAttempt(ctx, src, srv, netip.AddrPortFrom(dst, uint16(port)), listen, opts...)
		if err != nil {
			return r, err
		}
		switch {
		case r.Outcome != Connected:
			return r, fmt.Errorf("port forward %s → %s: %s", client, r.Dst, r.Evidence())
		case !r.Accepted:
			return r, fmt.Errorf("port forward %s → %s: connected, but not to %s: %s", client, r.Dst, server, r.Evidence())
		case r.Peer.Addr() != r.Local.Addr():
			return r, fmt.Errorf("port forward %s → %s: %s saw %s, not the client's %s: %s", client, r.Dst, server, r.Peer.Addr(), r.Local.Addr(), r.Evidence())
		}
		return r, nil
	})
}

// SpreadResult is the evidence of an ECMP check: how many packets each of
// a router's interfaces sent while flows crossed it.
type SpreadResult struct {
	From, Router string
	Dst          netip.Addr
	Flows        int
	// Sent is the transmit-packet increase per interface, in the order
	// asked.
	Ifaces []string
	Sent   []uint64
}

// Evidence renders the split.
func (r *SpreadResult) Evidence() string {
	parts := make([]string, len(r.Ifaces))
	for i, name := range r.Ifaces {
		parts[i] = fmt.Sprintf("%s:%s tx +%d", r.Router, name, r.Sent[i])
	}
	return fmt.Sprintf("%d UDP flows %s → %s (one source port each): %s", r.Flows, r.From, r.Dst, strings.Join(parts, ", "))
}

// Spread sends one UDP datagram on each of Count flows (default 64; a new
// socket, hence a new source port, for each) from a node to dst port 9,
// and counts what each of the router's interfaces transmitted meanwhile.
// It fails unless every interface carried at least a tenth of the flows:
// with a layer-4 multipath hash (net.ipv4.fib_multipath_hash_policy=1)
// an ECMP route spreads flows over all its paths.
func Spread(ctx context.Context, from, router *scenario.Node, dst netip.Addr, ifaces []string, opts ...Option) (*SpreadResult, error) {
	o, err := build(Options{Count: 64}, opts)
	if err != nil {
		return nil, fmt.Errorf("spread: %w", err)
	}
	r := &SpreadResult{From: from.Name(), Router: router.Name(), Dst: dst, Flows: o.Count, Ifaces: ifaces}
	for _, name := range ifaces {
		if router.Interface(name) == nil {
			return r, fmt.Errorf("spread: router %s has no interface %q", router.Name(), name)
		}
	}
	before := counters(router)
	err = from.Do(func() error {
		for i := 0; i < o.Count; i++ {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
			if err != nil {
				return err
			}
			_, err = c.Write([]byte("vtest flow"))
			c.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("spread: send from %s: %w", from.Name(), err)
	}
	// Wait until the router has sent every datagram on, or a second.
	var after linkCounters
	deadline := earliest(ctx, time.Now().Add(time.Second))
	for {
		after = counters(router)
		var total uint64
		r.Sent = r.Sent[:0]
		for _, name := range ifaces {
			d := after[name][1] - before[name][1]
			r.Sent = append(r.Sent, d)
			total += d
		}
		if total >= uint64(o.Count) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond) // polling a condition under a deadline
	}
	for i, name := range ifaces {
		if r.Sent[i] < uint64(o.Count/10) {
			return r, fmt.Errorf("flows %s → %s are not spread: %s:%s carried %d of %d: %s", from.Name(), dst, router.Name(), name, r.Sent[i], o.Count, r.Evidence())
		}
	}
	return r, nil
}

// SpreadOver is a scenario check: flows from → to are spread over every
// one of the router's interfaces ifaces (see Spread).
func SpreadOver(from string, to Target, router string, ifaces []string, opts ...Option) scenario.CheckFunc {
	return checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		src := n.Node(from)
		o, _ := build(Options{}, opts)
		dst, err := resolve(n, src, to, o.IPv6)
		if err != nil {
			return nil, err
		}
		return Spread(ctx, src, n.Node(router), dst, ifaces, opts...)
	})
}

// ThroughputResult is the evidence of a throughput measurement.
type ThroughputResult struct {
	From, To string
	Dst      netip.AddrPort
	Bytes    int64
	Over     time.Duration
	// Lo and Hi are the bounds in bit/s (0: none).
	Lo, Hi float64
}

// Rate is the measured goodput in bit/s.
func (r *ThroughputResult) Rate() float64 {
	if r.Over <= 0 {
		return 0
	}
	return float64(r.Bytes) * 8 / r.Over.Seconds()
}

// Evidence renders the measurement.
func (r *ThroughputResult) Evidence() string {
	s := fmt.Sprintf("TCP %s → %s (%s): %d bytes in %s = %s", r.From, r.To, r.Dst, r.Bytes, ms(r.Over), bitRate(r.Rate()))
	switch {
	case r.Lo > 0 && r.Hi > 0:
		s += fmt.Sprintf(" (want %s..%s)", bitRate(r.Lo), bitRate(r.Hi))
	case r.Lo > 0:
		s += fmt.Sprintf(" (want ≥ %s)", bitRate(r.Lo))
	case r.Hi > 0:
		s += fmt.Sprintf(" (want ≤ %s)", bitRate(r.Hi))
	}
	return s
}

func bitRate(b float64) string {
	switch {
	case b >= 1e9:
		return fmt.Sprintf("%.2f Gbit/s", b/1e9)
	case b >= 1e6:
		return fmt.Sprintf("%.2f Mbit/s", b/1e6)
	}
	return fmt.Sprintf("%.1f kbit/s", b/1e3)
}

// Throughput streams TCP from a node to a listener it opens in node to on
// dst for Timeout (default 500 ms) and returns the goodput the receiver
// saw, counted from the first byte received.
func Throughput(ctx context.Context, from, to *scenario.Node, dst netip.Addr, opts ...Option) (*ThroughputResult, error) {
	o, err := build(Options{Timeout: 500 * time.Millisecond}, opts)
	if err != nil {
		return nil, fmt.Errorf("throughput: %w", err)
	}
	r := &ThroughputResult{From: from.Name(), To: to.Name()}
	var ln *net.TCPListener
	err = to.Do(func() (err error) {
		ln, err = net.ListenTCP("tcp", &net.TCPAddr{IP: dst.AsSlice()})
		return err
	})
	if err != nil {
		return r, fmt.Errorf("throughput: listen in %s: %w", to.Name(), err)
	}
	defer ln.Close()
	r.Dst = ln.Addr().(*net.TCPAddr).AddrPort()
	type count struct {
		n    int64
		over time.Duration
		err  error
	}
	done := make(chan count, 1)
	go func() {
		c, err := ln.AcceptTCP()
		if err != nil {
			done <- count{err: err}
			return
		}
		defer c.Close()
		buf := make([]byte, 256<<10)
		var res count
		var start time.Time
		for {
			n, err := c.Read(buf)
			if n > 0 && start.IsZero() {
				// The first read starts the clock; what it returned
				// arrived before and is not counted.
				start = time.Now()
				_ = c.SetReadDeadline(earliest(ctx, start.Add(o.Timeout)))
				n = 0
			}
			res.n += int64(n)
			if err != nil {
				break
			}
		}
		if !start.IsZero() {
			res.over = time.Since(start)
		}
		done <- res
	}()
	var c *net.TCPConn
	err = from.Do(func() (err error) {
		d := net.Dialer{Timeout: time.Second}
		conn, err := d.DialContext(ctx, "tcp", r.Dst.String())
		if err == nil {
			c = conn.(*net.TCPConn)
		}
		return err
	})
	if err != nil {
		return r, fmt.Errorf("throughput: connect %s → %s: %w", from.Name(), r.Dst, err)
	}
	// Write until the receiver stops reading and closes.
	go func() {
		buf := make([]byte, 64<<10)
		_ = c.SetWriteDeadline(earliest(ctx, time.Now().Add(o.Timeout+5*time.Second)))
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	res := <-done
	c.Close()
	if res.err != nil {
		return r, fmt.Errorf("throughput: accept in %s: %w", to.Name(), res.err)
	}
	r.Bytes, r.Over = res.n, res.over
	return r, nil
}

// ThroughputWithin is a scenario check: TCP goodput from → to lies between
// lo and hi bit/s (0 for no bound).
func ThroughputWithin(from string, to Target, lo, hi float64, opts ...Option) scenario.CheckFunc {
	return checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		src := n.Node(from)
		o, _ := build(Options{}, opts)
		dst, err := resolve(n, src, to, o.IPv6)
		if err != nil {
			return nil, err
		}
		owner := ownerNode(n, dst)
		if owner == nil {
			return nil, fmt.Errorf("throughput: no node of scenario %q owns %s", n.Spec().Name, dst)
		}
		r, err := Throughput(ctx, src, owner, dst, opts...)
		if err != nil {
			return r, err
		}
		r.Lo, r.Hi = lo, hi
		if rate := r.Rate(); (lo > 0 && rate < lo) || (hi > 0 && rate > hi) {
			return r, fmt.Errorf("throughput %s → %s is %s, out of bounds: %s", from, dst, bitRate(rate), r.Evidence())
		}
		return r, nil
	})
}

// lossResult is the evidence of LossWithin.
type lossResult struct {
	ping   *PingResult
	lo, hi float64
}

func (r *lossResult) Evidence() string {
	return fmt.Sprintf("%s; loss %.0f%% (want %.0f%%..%.0f%%)", r.ping.Evidence(), 100*r.ping.Loss(), 100*r.lo, 100*r.hi)
}

// LossWithin is a scenario check: of Count echo probes (default 100, 1 ms
// apart, replies awaited up to Timeout, default 2 s), the fraction lost lies
// between lo and hi (0..1). It proves a loss impairment acts, and is not
// total.
func LossWithin(from string, to Target, lo, hi float64, opts ...Option) scenario.CheckFunc {
	return checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		src := n.Node(from)
		o, err := build(Options{Count: 100, Interval: time.Millisecond, Timeout: 2 * time.Second}, opts)
		if err != nil {
			return nil, fmt.Errorf("loss: %w", err)
		}
		dst, err := resolve(n, src, to, o.IPv6)
		if err != nil {
			return nil, err
		}
		p, err := ping(ctx, src, dst, o)
		if err != nil {
			return nil, err
		}
		r := &lossResult{ping: p, lo: lo, hi: hi}
		if l := p.Loss(); l < lo || l > hi {
			return r, fmt.Errorf("loss %s → %s is %.0f%%, outside %.0f%%..%.0f%%: %s", from, dst, 100*l, 100*lo, 100*hi, r.Evidence())
		}
		return r, nil
	})
}

// SeenAs is a scenario check: a UDP datagram from → to (sent from Source if
// given) arrives at a listener in to with source address want, and the
// echo comes back. With masquerading exits it tells which exit a source
// address takes (policy routing).
func SeenAs(from string, to Target, want string, opts ...Option) scenario.CheckFunc {
	return checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		src := n.Node(from)
		o, _ := build(Options{}, opts)
		dst, err := resolve(n, src, to, o.IPv6)
		if err != nil {
			return nil, err
		}
		w, err := netip.ParseAddr(want)
		if err != nil {
			return nil, fmt.Errorf("seen-as: want %q is not an address", want)
		}
		owner := ownerNode(n, dst)
		if owner == nil {
			return nil, fmt.Errorf("seen-as: no node of scenario %q owns %s", n.Spec().Name, dst)
		}
		r, err := SeenSource(ctx, src, owner, dst, opts...)
		if err != nil {
			return r, err
		}
		r.Want = w
		return r, judgeSource(r, w)
	})
}
