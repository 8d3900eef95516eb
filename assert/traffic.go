package assert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/scenario"
)

// ThroughputResult is the evidence of a TCP throughput check.
type ThroughputResult struct {
	From string
	Dst  netip.AddrPort
	// Bytes is what the receiver read during the measured time, after
	// the warm-up.
	Bytes    int64
	Measured time.Duration
	Warmup   time.Duration
	// Ramp says why the warm-up ended: TCP had left slow start and loss
	// recovery, or the longest warm-up had passed.
	Ramp string
	Mbps float64
	// Min and Max are the bounds in Mbit/s (0: none).
	Min, Max float64
	Elapsed  time.Duration
	// Machine says whether the check had the machine to itself.
	Machine string
}

// Evidence renders the rate.
func (r *ThroughputResult) Evidence() string {
	s := fmt.Sprintf("TCP %s → %s: %.1f Mbit/s (%d bytes in %s after a %s warm-up", r.From, r.Dst, r.Mbps, r.Bytes, ms(r.Measured), ms(r.Warmup))
	if r.Ramp != "" {
		s += ": " + r.Ramp
	}
	s += fmt.Sprintf("); want %s; took %s", mbpsBounds(r.Min, r.Max), ms(r.Elapsed))
	if r.Machine != "" {
		s += "; " + r.Machine
	}
	return s
}

func mbpsBounds(lo, hi float64) string {
	switch {
	case lo > 0 && hi > 0:
		return fmt.Sprintf("%.1f..%.1f Mbit/s", lo, hi)
	case lo > 0:
		return fmt.Sprintf("≥ %.1f Mbit/s", lo)
	case hi > 0:
		return fmt.Sprintf("≤ %.1f Mbit/s", hi)
	}
	return "any rate"
}

// Mbps bounds a throughput check in Mbit/s; 0 leaves a side open.
func Mbps(min, max float64) Option { return func(o *Options) { o.MinMbps, o.MaxMbps = min, max } }

// For sets how long a throughput check measures, after its warm-up.
func For(d time.Duration) Option { return func(o *Options) { o.Duration = d } }

var throughputDefaults = Options{Port: 5201, Duration: time.Second, Timeout: 3 * time.Second}

// warmups returns the shortest and the longest warm-up of a throughput
// check measuring for d.
func warmups(d time.Duration) (least, most time.Duration) { return d / 4, d / 2 }

// Throughput sends TCP as fast as it can from a node to dst:Port (default
// 5201; the check listens there itself, in the node owning dst) and
// measures the rate at the receiver for Duration (For, default 1 s) after
// a warm-up, like iperf's --omit: the warm-up lasts until the sender's
// TCP has left slow start and any loss recovery that ended it (read from
// TCP_INFO), at least a quarter of Duration and at most half of it, or
// longer while TCP is still in loss recovery and Timeout leaves room. So
// TCP's ramp, and the losses that end it against a shallow queue, are
// not measured. It passes when the rate is within Mbps(min, max). The
// whole check is bounded by Timeout (default 3 s), which must exceed the
// longest warm-up plus Duration.
func Throughput(ctx context.Context, from *scenario.Node, dst netip.Addr, opts ...Option) (*ThroughputResult, error) {
	o, err := build(throughputDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("throughput: %w", err)
	}
	if err := throughputOptions(o); err != nil {
		return nil, err
	}
	// A rate is timing: measure with the machine to ourselves.
	release, note, err := scenario.Exclusive(ctx)
	if err != nil {
		return nil, fmt.Errorf("throughput: %w", err)
	}
	defer release()
	start := time.Now()
	r := &ThroughputResult{From: from.Name(), Dst: netip.AddrPortFrom(dst, uint16(o.Port)), Min: o.MinMbps, Max: o.MaxMbps, Machine: note}
	defer func() { r.Elapsed = time.Since(start) }()
	ctx, cancel := context.WithDeadline(ctx, earliest(ctx, start.Add(o.Timeout)))
	defer cancel()

	n := from.Network()
	rcv := ownerNode(n, dst)
	if rcv == nil {
		return r, fmt.Errorf("throughput: no node of the scenario owns %s", dst)
	}
	var l net.Listener
	if err := inside.Do(rcv, func() (err error) { l, err = net.Listen("tcp", r.Dst.String()); return err }); err != nil {
		return r, fmt.Errorf("throughput: listen in %s: %w", rcv.Name(), err)
	}
	defer l.Close()
	if tl, ok := l.(*net.TCPListener); ok {
		_ = tl.SetDeadline(earliest(ctx, start.Add(o.Timeout)))
	}
	var c net.Conn
	err = inside.Do(from, func() (err error) {
		c, err = (&net.Dialer{}).DialContext(ctx, "tcp", r.Dst.String())
		return err
	})
	if err != nil {
		return r, fmt.Errorf("throughput: connect %s → %s: %w", from.Name(), r.Dst, err)
	}
	defer c.Close()
	rc, err := l.Accept()
	if err != nil {
		return r, fmt.Errorf("throughput: accept in %s: %w", rcv.Name(), err)
	}
	defer rc.Close()

	// Both ends stop at the same moment: what is still queued in socket
	// buffers or a qdisc then is not waited for, so a check takes the
	// warm-up plus Duration (plus setup) whatever the rate.
	begin := time.Now()
	least, most := warmups(o.Duration)
	// A TCP still recovering from its ramp's losses at the longest
	// warm-up (a loaded machine's late ACKs make many) is waited for as
	// long as the Timeout leaves room for Duration: its goodput is not the
	// path's rate. Past that, the window is measured all the same, and the
	// evidence says TCP's state.
	latest := begin.Add(most)
	if d, ok := ctx.Deadline(); ok && d.Add(-o.Duration-100*time.Millisecond).After(latest) {
		latest = d.Add(-o.Duration - 100*time.Millisecond)
	}
	stop := earliest(ctx, latest.Add(o.Duration))
	_ = c.SetWriteDeadline(stop)
	_ = rc.SetReadDeadline(stop)
	var warm atomic.Int64 // when the warm-up ended (UnixNano), 0 before
	type rampDone struct {
		why     string
		stack   uint64 // bytes the receiver's TCP had taken in at the end of the warm-up
		stackOK bool
	}
	ramp := make(chan rampDone, 1)
	go func() {
		why := rampEnd(c, begin.Add(least), begin.Add(most), latest)
		stack, ok := bytesReceived(rc)
		end := time.Now()
		warm.Store(end.UnixNano())
		stop := earliest(ctx, end.Add(o.Duration))
		_ = c.SetWriteDeadline(stop)
		_ = rc.SetReadDeadline(stop)
		ramp <- rampDone{why, stack, ok}
	}()
	type received struct {
		bytes       int64
		first, last time.Time
		err         error
	}
	got := make(chan received, 1)
	go func() {
		var rv received
		defer func() { got <- rv }()
		buf := make([]byte, 256<<10)
		for {
			k, err := rc.Read(buf)
			if w := warm.Load(); k > 0 && w != 0 {
				if rv.first.IsZero() {
					rv.first = time.Unix(0, w)
				}
				if now := time.Now(); now.After(rv.first) {
					rv.last = now
					rv.bytes += int64(k)
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					rv.err = err
				}
				return
			}
		}
	}()
	buf := make([]byte, 128<<10)
	for {
		if _, err := c.Write(buf); err != nil {
			break // the sending time is over (or the path broke)
		}
	}
	rd := <-ramp
	// What the receiver's TCP took in between the end of the warm-up and
	// now, read from the kernel: bytes that waited in the socket buffer
	// for a reader the machine was slow to run are not counted twice
	// (once late, as if they had arrived in the window).
	stack, stackOK := bytesReceived(rc)
	stackEnd := time.Now()
	c.Close()
	rv := <-got
	r.Ramp = rd.why
	r.Warmup = time.Unix(0, warm.Load()).Sub(begin)
	r.Bytes, r.Measured = rv.bytes, rv.last.Sub(rv.first)
	if rd.stackOK && stackOK && stack > rd.stack {
		r.Bytes, r.Measured = int64(stack-rd.stack), stackEnd.Sub(time.Unix(0, warm.Load()))
	}
	if r.Measured > 0 {
		r.Mbps = float64(r.Bytes) * 8 / r.Measured.Seconds() / 1e6
	}
	if rv.err != nil && !isTimeout(rv.err) {
		return r, failf(r, "throughput: receive: %w", rv.err)
	}
	if r.Bytes == 0 {
		return r, failf(r, "throughput %s → %s: nothing arrived", from.Name(), r.Dst)
	}
	if o.MinMbps > 0 && r.Mbps < o.MinMbps || o.MaxMbps > 0 && r.Mbps > o.MaxMbps {
		return r, failf(r, "throughput %s → %s is %.1f Mbit/s, want %s", from.Name(), r.Dst, r.Mbps, mbpsBounds(o.MinMbps, o.MaxMbps))
	}
	return r, nil
}

// throughputOptions refuses options a throughput check cannot meet, each
// with its own fix.
func throughputOptions(o Options) error {
	_, most := warmups(o.Duration)
	switch {
	case o.Duration <= 0:
		return fmt.Errorf("throughput: For(%v): the measured time must be positive", o.Duration)
	case most+o.Duration >= o.Timeout:
		return fmt.Errorf("throughput: For(%v) needs more than Timeout %v: a warm-up of up to %v, then %v measured, takes up to %v; raise Timeout to more than %v (e.g. Timeout(%v)) or shorten For",
			o.Duration, o.Timeout, most, o.Duration, most+o.Duration, most+o.Duration, (most + o.Duration + time.Second).Round(time.Second))
	case o.MinMbps < 0 || o.MaxMbps < 0:
		return fmt.Errorf("throughput: Mbps(%v, %v): bounds must not be negative (0 leaves a side open)", o.MinMbps, o.MaxMbps)
	case o.MaxMbps > 0 && o.MaxMbps < o.MinMbps:
		return fmt.Errorf("throughput: Mbps(%v, %v): the upper bound is below the lower one", o.MinMbps, o.MaxMbps)
	}
	return nil
}

// rampEnd returns, between least and most, once the TCP connection c has
// left slow start and loss recovery: its congestion state is open, and its
// window has reached the slow-start threshold a first loss (or ECN) set.
// A connection still in loss recovery at most is waited for until it
// leaves it, or until latest. It samples TCP_INFO every few milliseconds
// and says why it returned.
func rampEnd(c net.Conn, least, most, latest time.Time) string {
	sc, ok := c.(syscall.Conn)
	if !ok {
		time.Sleep(time.Until(least))
		return "no TCP_INFO"
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		time.Sleep(time.Until(least))
		return "no TCP_INFO"
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var info *unix.TCPInfo
	for {
		var ierr error
		if err := raw.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || ierr != nil {
			time.Sleep(time.Until(least))
			return "no TCP_INFO"
		}
		now := time.Now()
		settled := info.Ca_state == tcpCAOpen && info.Snd_ssthresh < tcpInfiniteSsthresh && info.Snd_cwnd >= info.Snd_ssthresh
		switch {
		case settled && !now.Before(least):
			return fmt.Sprintf("TCP out of slow start and recovery (cwnd %d ≥ ssthresh %d, %d retransmitted)", info.Snd_cwnd, info.Snd_ssthresh, info.Total_retrans)
		case info.Ca_state != tcpCAOpen && now.Before(latest) && !now.Before(most):
			// still recovering: wait for it to end, up to latest
		case !now.Before(most):
			if info.Snd_ssthresh >= tcpInfiniteSsthresh {
				return fmt.Sprintf("the longest warm-up; TCP never lost a packet (slow start, cwnd %d)", info.Snd_cwnd)
			}
			return fmt.Sprintf("the longest warm-up; TCP still in %s (cwnd %d, ssthresh %d, %d retransmitted)", caState(info.Ca_state), info.Snd_cwnd, info.Snd_ssthresh, info.Total_retrans)
		}
		<-tick.C
	}
}

// bytesReceived is the count of bytes the TCP connection c has received
// (tcpi_bytes_received), whether or not they were read yet.
func bytesReceived(c net.Conn) (uint64, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info *unix.TCPInfo
	var ierr error
	if err := raw.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || ierr != nil {
		return 0, false
	}
	return info.Bytes_received, true
}

// TCP congestion states (include/uapi/linux/tcp.h) and the threshold of a
// connection that has not lost yet (TCP_INFINITE_SSTHRESH).
const (
	tcpCAOpen           = 0
	tcpInfiniteSsthresh = 0x7fffffff
)

func caState(s uint8) string {
	if names := []string{"open", "disorder", "CWR", "recovery", "loss"}; int(s) < len(names) {
		return names[s] + " state"
	}
	return fmt.Sprintf("congestion state %d", s)
}

// Rate is a scenario check: TCP throughput from → to lies within
// Mbps(min, max); see Throughput.
func Rate(from string, to Target, opts ...Option) scenario.CheckFunc {
	return named("Rate", throughputReads, Throughput, from, to, opts)
}

// RateWithin fails the test unless the TCP throughput from → to lies
// within Mbps(min, max); see Throughput.
//
// Deprecated: use assert.Check(t, n, assert.Rate(…)).
func RateWithin(t TestingT, from *scenario.Node, to Target, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, from.Network(), Rate(from.Name(), to, opts...))
}

// SpreadResult is the evidence of a flow-spread (ECMP) check.
type SpreadResult struct {
	From   string
	Dst    netip.AddrPort
	Flows  int
	Router string
	// Ifaces are the router's interfaces watched, in the order given.
	Ifaces []string
	// Packets is how many of the check's own datagrams each of the
	// router's interfaces sent, counted on the wire (a packet socket on
	// the interface), matched by addresses, protocol and ports.
	Packets map[string]uint64
	// Other is how many other frames each interface sent meanwhile
	// (ARP, neighbour discovery, other traffic): shown, never counted.
	Other map[string]uint64
}

// Evidence renders the spread.
func (r *SpreadResult) Evidence() string {
	names := r.Ifaces
	if len(names) == 0 {
		for k := range r.Packets {
			names = append(names, k)
		}
		sort.Strings(names)
	}
	var total uint64
	for _, k := range names {
		total += r.Packets[k]
	}
	var parts, other []string
	for _, k := range names {
		share := 0.0
		if total > 0 {
			share = 100 * float64(r.Packets[k]) / float64(total)
		}
		parts = append(parts, fmt.Sprintf("%s:%s %d (%.0f%%)", r.Router, k, r.Packets[k], share))
		other = append(other, fmt.Sprintf("%s:%s %d", r.Router, k, r.Other[k]))
	}
	return fmt.Sprintf("%d UDP flows %s → %s (source ports vary); the check's own datagrams sent per interface: %s; other frames sent, not counted: %s",
		r.Flows, r.From, r.Dst, strings.Join(parts, ", "), strings.Join(other, ", "))
}

var spreadDefaults = Options{Count: 16, Port: 9}

// FlowSpread sends Count (default 16) UDP flows — one datagram each from
// a different source port — from a node to dst:Port (default 9; nothing
// need listen) and counts, with a packet socket on each of router's
// interfaces ifaces, which of them sent each of those datagrams: its own
// flows, matched by source and destination address and port, never the
// interfaces' counters (which count ARP, neighbour discovery and any
// other traffic too). It passes when every one of the interfaces sent
// some: the flows are spread over the paths, as ECMP with an L4 hash
// should.
func FlowSpread(ctx context.Context, from *scenario.Node, dst netip.Addr, router *scenario.Node, ifaces []string, opts ...Option) (*SpreadResult, error) {
	o, err := build(spreadDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("spread: %w", err)
	}
	if len(ifaces) < 2 {
		return nil, errors.New("spread: name at least two interfaces of the router")
	}
	for _, i := range ifaces {
		if router.Interface(i) == nil {
			return nil, fmt.Errorf("spread: %s has no interface %q", router.Name(), i)
		}
	}
	r := &SpreadResult{From: from.Name(), Dst: netip.AddrPortFrom(dst, uint16(o.Port)), Flows: o.Count, Router: router.Name(),
		Ifaces: ifaces, Packets: map[string]uint64{}, Other: map[string]uint64{}}
	// Open the flows' sockets first (connecting a UDP socket sends
	// nothing): their addresses and ports are what the router's
	// interfaces are watched for.
	var conns []*net.UDPConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	flows := map[netip.AddrPort]bool{}
	err = inside.Do(from, func() error {
		for range o.Count {
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(r.Dst))
			if err != nil {
				return err
			}
			conns = append(conns, c)
			ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
			flows[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())] = true
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("spread: sockets in %s: %w", from.Name(), err)
	}
	own := func(_ string, p gopacket.Packet, outgoing bool) bool {
		src, dst, ok := udpFlow(p)
		return ok && outgoing && dst == r.Dst && flows[src]
	}
	t, err := openTap(router, ifaces, own)
	if err != nil {
		return r, fmt.Errorf("spread: %w", err)
	}
	sent := 0
	var sendErrs []error
	for _, c := range conns {
		if _, err := c.Write([]byte("vtest flow")); err != nil {
			sendErrs = append(sendErrs, err)
			continue
		}
		sent++
	}
	// The datagrams are forwarded asynchronously: wait (bounded) until
	// the router has sent as many as were sent to it.
	counts, err := t.wait(earliest(ctx, time.Now().Add(time.Second)), func(c map[string]*ownCount) bool {
		total := 0
		for _, v := range c {
			total += v.Out
		}
		return total >= sent
	})
	for _, i := range ifaces {
		r.Packets[i], r.Other[i] = uint64(counts[i].Out), uint64(counts[i].OtherOut)
	}
	if err != nil {
		return r, fmt.Errorf("spread: %w", err)
	}
	if sent == 0 {
		return r, fmt.Errorf("spread: %s could send none of its %d datagrams: %v", from.Name(), o.Count, errors.Join(sendErrs...))
	}
	for _, i := range ifaces {
		if r.Packets[i] == 0 {
			return r, failf(r, "flows from %s to %s are not spread: %s:%s carried none", from.Name(), dst, router.Name(), i)
		}
	}
	return r, nil
}

// udpFlow returns a UDP packet's source and destination.
func udpFlow(p gopacket.Packet) (src, dst netip.AddrPort, ok bool) {
	u, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if u == nil {
		return src, dst, false
	}
	var s, d netip.Addr
	switch ip := p.NetworkLayer().(type) {
	case *layers.IPv4:
		s, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		d, _ = netip.AddrFromSlice(ip.DstIP.To4())
		ok = ip.Protocol == layers.IPProtocolUDP
	case *layers.IPv6:
		s, _ = netip.AddrFromSlice(ip.SrcIP)
		d, _ = netip.AddrFromSlice(ip.DstIP)
		ok = ip.NextHeader == layers.IPProtocolUDP
	}
	if !ok {
		return src, dst, false // not UDP itself (an ICMP error quoting a datagram, say)
	}
	return netip.AddrPortFrom(s, uint16(u.SrcPort)), netip.AddrPortFrom(d, uint16(u.DstPort)), true
}

// Spread is a scenario check: UDP flows from → to are spread over all of
// router's interfaces ifaces; see FlowSpread.
func Spread(from string, to Target, router string, ifaces []string, opts ...Option) scenario.CheckFunc {
	return also(named("Spread", spreadReads, func(ctx context.Context, src *scenario.Node, dst netip.Addr, opts ...Option) (*SpreadResult, error) {
		return FlowSpread(ctx, src, dst, src.Network().Node(router), ifaces, opts...)
	}, from, to, opts), routerIfaces(router, ifaces))
}

// Spreads fails the test unless UDP flows from → to are spread over the
// router's interfaces; see FlowSpread.
//
// Deprecated: use assert.Check(t, n, assert.Spread(…)).
func Spreads(t TestingT, from *scenario.Node, to Target, router *scenario.Node, ifaces []string, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, from.Network(), Spread(from.Name(), to, router.Name(), ifaces, opts...))
}
