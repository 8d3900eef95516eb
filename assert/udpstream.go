package assert

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/scenario"
)

// UDPStreamResult is the evidence of a UDP stream check: what the sender
// offered and what the receiver counted of its own datagrams.
type UDPStreamResult struct {
	From string
	Dst  netip.AddrPort
	// Offered is the rate asked for, in Mbit/s of UDP payload; SentMbps
	// the rate the sender kept.
	Offered, SentMbps float64
	// Size is the UDP payload of each datagram in bytes.
	Size int
	// Sent datagrams left the sender's socket; Received are the distinct
	// ones the receiver read, Duplicates and Reordered (arrived after a
	// later one) among them.
	Sent, Received, Duplicates, Reordered int
	// SendErrors counts writes the sender's socket refused.
	SendErrors int
	// BufferDrops are datagrams the receiver's own socket dropped
	// (SO_RXQ_OVFL): the machine's verdict, not the network's.
	BufferDrops uint32
	// Loss is the fraction of sent datagrams that never arrived.
	Loss float64
	// Jitter is the RFC 3550 interarrival jitter of the transit times.
	Jitter time.Duration
	// Mbps is the received payload rate, first to last arrival.
	Mbps float64
	// The bounds: loss, jitter (0: open), rate (0: open).
	MaxLoss           float64
	MaxJitter         time.Duration
	MinMbps, MaxMbps  float64
	Duration, Elapsed time.Duration
	// Machine says whether the check had the machine to itself.
	Machine string
}

// Evidence renders the stream, like iperf's UDP server report.
func (r *UDPStreamResult) Evidence() string {
	s := fmt.Sprintf("UDP %s → %s at %.1f Mbit/s for %s (%d-byte datagrams): sent %d (%.1f Mbit/s), received %d (%.1f Mbit/s), lost %d (%.2f%%), %d duplicate, %d reordered, jitter %.3f ms",
		r.From, r.Dst, r.Offered, ms(r.Duration), r.Size, r.Sent, r.SentMbps, r.Received, r.Mbps, r.Sent-r.Received, 100*r.Loss, r.Duplicates, r.Reordered, float64(r.Jitter)/1e6)
	if r.SendErrors > 0 {
		s += fmt.Sprintf(", %d writes refused", r.SendErrors)
	}
	if r.BufferDrops > 0 {
		s += fmt.Sprintf(", %d dropped by the receiving socket's buffer", r.BufferDrops)
	}
	want := []string{fmt.Sprintf("loss ≤ %.2f%%", 100*r.MaxLoss)}
	if r.MaxJitter > 0 {
		want = append(want, fmt.Sprintf("jitter ≤ %.3f ms", float64(r.MaxJitter)/1e6))
	}
	if r.MinMbps > 0 || r.MaxMbps > 0 {
		want = append(want, "rate "+mbpsBounds(r.MinMbps, r.MaxMbps))
	}
	s += "; want " + strings.Join(want, ", ") + "; took " + ms(r.Elapsed)
	if r.Machine != "" {
		s += "; " + r.Machine
	}
	return s
}

// Jitter bounds the RFC 3550 interarrival jitter of a UDP stream check.
func Jitter(d time.Duration) Option { return func(o *Options) { o.Jitter = d } }

var udpStreamDefaults = Options{Port: 5001, Duration: time.Second, Size: 1470}

// udpHeader is what each datagram of a stream starts with: a magic, the
// stream's random id, the sequence number and the send time (UnixNano).
const (
	udpHeader = 24
	udpMagic  = 0x76745553 // "vtUS"
)

// udpStreamOptions refuses a rate or options a stream cannot meet.
func udpStreamOptions(mbit float64, o Options) error {
	switch {
	case !(mbit > 0) || mbit > 100000:
		return fmt.Errorf("udp stream: rate %v Mbit/s is outside (0, 100000]", mbit)
	case o.Duration <= 0:
		return fmt.Errorf("udp stream: For(%v): the sending time must be positive", o.Duration)
	case o.Size < udpHeader || o.Size > 65000:
		return fmt.Errorf("udp stream: Size(%d): a datagram carries %d..65000 bytes of payload", o.Size, udpHeader)
	case o.Jitter < 0:
		return fmt.Errorf("udp stream: Jitter(%v) is negative", o.Jitter)
	case o.MinMbps < 0 || o.MaxMbps < 0 || o.MaxMbps > 0 && o.MaxMbps < o.MinMbps:
		return fmt.Errorf("udp stream: Mbps(%v, %v): bounds must not be negative nor the upper below the lower", o.MinMbps, o.MaxMbps)
	case o.Timeout > 0 && o.Timeout <= o.Duration+udpDrain(o.Duration):
		return fmt.Errorf("udp stream: Timeout(%v) must exceed For(%v) plus %v for the last datagrams to arrive", o.Timeout, o.Duration, udpDrain(o.Duration))
	}
	return nil
}

// udpDrain is how long the receiver waits, after the last datagram was
// sent, for those still queued on the path.
func udpDrain(d time.Duration) time.Duration { return max(250*time.Millisecond, d/4) }

// StreamUDP sends a UDP stream from a node to dst:Port (default 5001) at
// mbit Mbit/s of payload, in Size-byte datagrams (default 1470, as iperf),
// for Duration (For, default 1 s), and counts at the receiver — a socket
// the check opens in the node owning dst — its own datagrams by sequence
// number and send time: loss, duplicates, reordering, received rate and
// the RFC 3550 interarrival jitter (kernel receive timestamps). It passes
// when the loss is within Loss (default 0), the jitter within Jitter
// (default open) and the received rate within Mbps(min, max) (default
// open). The check asks for the machine to itself, as Throughput does.
// The sender's socket buffer is large, so a queue on the path, not the
// sender, decides what is lost; a sender that could not keep 90% of the
// rate, or a receiving socket that overflowed, makes the verdict
// inconclusive (the machine decided it). Timeout defaults to Duration
// plus 2 s.
func StreamUDP(ctx context.Context, from *scenario.Node, dst netip.Addr, mbit float64, opts ...Option) (*UDPStreamResult, error) {
	o, err := build(udpStreamDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("udp stream: %w", err)
	}
	if err := udpStreamOptions(mbit, o); err != nil {
		return nil, err
	}
	if o.Timeout == 0 {
		o.Timeout = o.Duration + 2*time.Second
	}
	release, note, err := scenario.Exclusive(ctx)
	if err != nil {
		return nil, fmt.Errorf("udp stream: %w", err)
	}
	defer release()
	start := time.Now()
	r := &UDPStreamResult{From: from.Name(), Dst: netip.AddrPortFrom(dst, uint16(o.Port)), Offered: mbit, Size: o.Size,
		MaxLoss: o.Loss, MaxJitter: o.Jitter, MinMbps: o.MinMbps, MaxMbps: o.MaxMbps, Duration: o.Duration, Machine: note}
	defer func() { r.Elapsed = time.Since(start) }()
	deadline := earliest(ctx, start.Add(o.Timeout))

	rcv := ownerNode(from.Network(), dst)
	if rcv == nil {
		return r, fmt.Errorf("udp stream: no node of the scenario owns %s", dst)
	}
	var rc *net.UDPConn
	if err := inside.Do(rcv, func() (err error) { rc, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(r.Dst)); return err }); err != nil {
		return r, fmt.Errorf("udp stream: listen in %s: %w", rcv.Name(), err)
	}
	defer rc.Close()
	if err := sockopts(rc, unix.SO_RCVBUFFORCE, 16<<20, unix.SO_RXQ_OVFL, 1, unix.SO_TIMESTAMPNS, 1); err != nil {
		return r, fmt.Errorf("udp stream: receiver in %s: %w", rcv.Name(), err)
	}
	var sc *net.UDPConn
	if err := inside.Do(from, func() (err error) { sc, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(r.Dst)); return err }); err != nil {
		return r, fmt.Errorf("udp stream: socket in %s: %w", from.Name(), err)
	}
	defer sc.Close()
	if err := sockopts(sc, unix.SO_SNDBUFFORCE, 16<<20); err != nil {
		return r, fmt.Errorf("udp stream: sender in %s: %w", from.Name(), err)
	}

	var id [4]byte
	_, _ = rand.Read(id[:])
	planned := int(math.Ceil(mbit * 1e6 * o.Duration.Seconds() / float64(8*o.Size)))
	var want, uniq atomic.Int64
	got := make(chan udpCount, 1)
	_ = rc.SetReadDeadline(deadline)
	go func() { got <- receiveStream(rc, id, planned, &want, &uniq) }()

	// Pace the datagrams: each leaves at its due time, or at once when
	// the sender is late (a burst catching up).
	interval := time.Duration(float64(8*o.Size) / (mbit * 1e6) * float64(time.Second))
	buf := make([]byte, o.Size)
	binary.BigEndian.PutUint32(buf[0:], udpMagic)
	copy(buf[4:8], id[:])
	begin := time.Now()
	stop := earliest(ctx, begin.Add(o.Duration))
	var last time.Time
	for i := range planned {
		due := begin.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		if now := time.Now(); now.After(stop) {
			break
		}
		last = time.Now()
		binary.BigEndian.PutUint64(buf[8:], uint64(i))
		binary.BigEndian.PutUint64(buf[16:], uint64(last.UnixNano()))
		if _, err := sc.Write(buf); err != nil {
			r.SendErrors++
			continue
		}
		r.Sent++
	}
	if span := last.Sub(begin); r.Sent > 0 {
		// The sender's rate over the time it took to send them, one
		// interval per datagram.
		r.SentMbps = float64(r.Sent*8*o.Size) / (span + interval).Seconds() / 1e6
	}
	// The receiver stops once it has every datagram sent, or when the
	// ones still queued on the path have had time to arrive.
	want.Store(int64(r.Sent))
	if uniq.Load() >= int64(r.Sent) {
		_ = rc.SetReadDeadline(time.Now())
	} else {
		_ = rc.SetReadDeadline(earliest(ctx, minTime(deadline, time.Now().Add(udpDrain(o.Duration)))))
	}
	c := <-got
	r.Received, r.Duplicates, r.Reordered, r.BufferDrops, r.Jitter = c.received, c.duplicates, c.reordered, c.drops, time.Duration(c.jitter)
	if r.Sent > 0 {
		r.Loss = float64(max(r.Sent-r.Received, 0)) / float64(r.Sent)
	}
	if span := c.last.Sub(c.first); span > 0 && r.Received > 1 {
		// Bytes after the first arrival over the time they took.
		r.Mbps = float64((r.Received-1)*8*o.Size) / span.Seconds() / 1e6
	}
	if c.err != nil && !isTimeout(c.err) {
		return r, failf(r, "udp stream: receive in %s: %w", rcv.Name(), c.err)
	}
	// The inconclusive reasons below quote the evidence now.
	r.Elapsed = time.Since(start)
	switch {
	case r.Sent == 0:
		return r, failf(r, "udp stream %s → %s: the sender could send none of its datagrams (%d writes refused)", from.Name(), r.Dst, r.SendErrors)
	case r.BufferDrops > 0 && r.Loss > o.Loss:
		return r, &scenario.InconclusiveError{Reason: fmt.Sprintf("udp stream %s → %s: the check's own receiving socket dropped %d datagrams (the machine was too busy to read them): %s", from.Name(), r.Dst, r.BufferDrops, r.Evidence())}
	case r.SentMbps < 0.9*mbit && r.Loss > o.Loss:
		return r, &scenario.InconclusiveError{Reason: fmt.Sprintf("udp stream %s → %s: the sender kept only %.1f of the %.1f Mbit/s asked for: %s", from.Name(), r.Dst, r.SentMbps, mbit, r.Evidence())}
	case r.Loss > o.Loss:
		return r, failf(r, "udp stream %s → %s lost %d of %d datagrams (%.2f%%), want ≤ %.2f%%", from.Name(), r.Dst, r.Sent-r.Received, r.Sent, 100*r.Loss, 100*o.Loss)
	case o.Jitter > 0 && r.Jitter > o.Jitter:
		return r, failf(r, "udp stream %s → %s: jitter %.3f ms, want ≤ %.3f ms", from.Name(), r.Dst, float64(r.Jitter)/1e6, float64(o.Jitter)/1e6)
	case o.MinMbps > 0 && r.Mbps < o.MinMbps || o.MaxMbps > 0 && r.Mbps > o.MaxMbps:
		return r, failf(r, "udp stream %s → %s received %.1f Mbit/s, want %s", from.Name(), r.Dst, r.Mbps, mbpsBounds(o.MinMbps, o.MaxMbps))
	}
	return r, nil
}

// udpCount is what the receiver of a stream counted.
type udpCount struct {
	received, duplicates, reordered int
	drops                           uint32
	jitter                          float64 // ns
	first, last                     time.Time
	err                             error
}

// receiveStream reads the datagrams of stream id until its read deadline,
// or until it has all *want of them (0: not known yet), counting each
// sequence number once. uniq mirrors the distinct count for the sender.
func receiveStream(c *net.UDPConn, id [4]byte, planned int, want, uniq *atomic.Int64) udpCount {
	var r udpCount
	seen := make([]bool, planned)
	buf := make([]byte, 65536)
	oob := make([]byte, 128)
	highest, prevTransit := -1, int64(0)
	for {
		n, oobn, _, _, err := c.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			r.err = err
			return r
		}
		at := time.Now()
		if cm, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range cm {
				switch {
				case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_RXQ_OVFL && len(m.Data) >= 4:
					r.drops = binary.NativeEndian.Uint32(m.Data)
				case m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16:
					at = time.Unix(int64(binary.NativeEndian.Uint64(m.Data)), int64(binary.NativeEndian.Uint64(m.Data[8:])))
				}
			}
		}
		if n < udpHeader || binary.BigEndian.Uint32(buf) != udpMagic || [4]byte(buf[4:8]) != id {
			continue // not this stream's
		}
		seq := binary.BigEndian.Uint64(buf[8:])
		if seq >= uint64(planned) {
			continue
		}
		if seen[seq] {
			r.duplicates++
			continue
		}
		seen[seq] = true
		r.received++
		uniq.Store(int64(r.received))
		if r.first.IsZero() {
			r.first = at
		}
		r.last = at
		if int(seq) < highest {
			r.reordered++
		}
		highest = max(highest, int(seq))
		// RFC 3550 §6.4.1: J += (|D| - J)/16, D the change in transit time.
		transit := at.UnixNano() - int64(binary.BigEndian.Uint64(buf[16:]))
		if r.received > 1 {
			r.jitter += (math.Abs(float64(transit-prevTransit)) - r.jitter) / 16
		}
		prevTransit = transit
		if w := want.Load(); w > 0 && int64(r.received) >= w {
			return r
		}
	}
}

// sockopts sets integer socket options, given as name, value pairs at
// level SOL_SOCKET.
func sockopts(c *net.UDPConn, nv ...int) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		for i := 0; i+1 < len(nv) && serr == nil; i += 2 {
			if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, nv[i], nv[i+1]); e != nil {
				serr = fmt.Errorf("socket option %d: %w", nv[i], e)
			}
		}
	})
	return errors.Join(err, serr)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// UDPStream is a scenario check: a UDP stream from → to at mbit Mbit/s
// loses no more than Loss, with jitter within Jitter and received rate
// within Mbps; see StreamUDP.
func UDPStream(from string, to Target, mbit float64, opts ...Option) scenario.CheckFunc {
	check := named("UDPStream", udpStreamReads, func(ctx context.Context, src *scenario.Node, dst netip.Addr, opts ...Option) (*UDPStreamResult, error) {
		return StreamUDP(ctx, src, dst, mbit, opts...)
	}, from, to, opts)
	if err := udpStreamOptions(mbit, mustBuild(udpStreamDefaults, opts)); err != nil {
		return also(check, scenario.CheckRefs{Problems: []scenario.CheckProblem{{
			Problem: "assert.UDPStream: " + strings.TrimPrefix(err.Error(), "udp stream: "),
			Fix:     "give a positive rate in Mbit/s and options in range",
		}}})
	}
	return check
}

// mustBuild returns the options opts build, errors aside (declare
// reports those).
func mustBuild(defaults Options, opts []Option) Options {
	o, _ := build(defaults, slices.DeleteFunc(slices.Clone(opts), func(f Option) bool { return f == nil }))
	return o
}

// UDPStreamWithin fails the test unless a UDP stream from → to at mbit
// Mbit/s meets its loss, jitter and rate bounds; see StreamUDP.
//
// Deprecated: use assert.Check(t, n, assert.UDPStream(…)).
func UDPStreamWithin(t TestingT, from *scenario.Node, to Target, mbit float64, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, from.Network(), UDPStream(from.Name(), to, mbit, opts...))
}
