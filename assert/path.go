package assert

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/scenario"
)

// PMTUResult is the evidence of a path-MTU probe.
type PMTUResult struct {
	From string
	To   netip.Addr
	// Size is the probe's IP packet size, sent with DF (IPv6 never
	// fragments in flight).
	Size int
	// Passed says an echo reply came back for the full-size probe.
	Passed bool
	// MTU is the MTU an ICMP "fragmentation needed" (IPv4) or "packet too
	// big" (IPv6) announced, and By who sent it.
	MTU  int
	By   netip.Addr
	Want string
	// Other is any other answer or failure.
	Other   string
	Elapsed time.Duration
}

// Evidence renders the probe's outcome.
func (r *PMTUResult) Evidence() string {
	s := fmt.Sprintf("DF probe of %d bytes %s → %s: ", r.Size, r.From, r.To)
	switch {
	case r.Passed:
		s += "passed (echo reply)"
	case r.MTU > 0:
		s += fmt.Sprintf("fragmentation needed, MTU %d, from %s", r.MTU, r.By)
	case r.Other != "":
		s += r.Other
	default:
		s += "no answer"
	}
	return s + fmt.Sprintf("; want %s; took %s", r.Want, ms(r.Elapsed))
}

var pmtuDefaults = Options{Size: 1500, Timeout: 500 * time.Millisecond}

// PMTUProbe sends one ICMP echo request of Size bytes (the whole IP
// packet, default 1500) with DF from a node, ignoring any path MTU the
// node already learned (IP_PMTUDISC_PROBE), and reports whether it passes
// or an ICMP "fragmentation needed"/"packet too big" with MTU M comes back.
// With PathMTU(M) the check expects exactly that answer; without it, it
// expects the probe to pass.
func PMTUProbe(ctx context.Context, from *scenario.Node, to netip.Addr, opts ...Option) (*PMTUResult, error) {
	o, err := build(pmtuDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("pmtu: %w", err)
	}
	hdr := 20 + 8
	if to.Is6() {
		hdr = 40 + 8
	}
	if o.Size < hdr+8 {
		return nil, fmt.Errorf("pmtu: size %d is below the %d-byte headers", o.Size, hdr+8)
	}
	start := time.Now()
	r := &PMTUResult{From: from.Name(), To: to, Size: o.Size, Want: "passes"}
	if o.PathMTU > 0 {
		r.Want = fmt.Sprintf("fragmentation needed with MTU %d", o.PathMTU)
	}
	defer func() { r.Elapsed = time.Since(start) }()
	network, proto := "ip4:icmp", 1
	if to.Is6() {
		network, proto = "ip6:ipv6-icmp", 58
	}
	var c *net.IPConn
	err = inside.Do(from, func() error {
		pc, err := net.ListenPacket(network, "")
		if err != nil {
			return err
		}
		c = pc.(*net.IPConn)
		rc, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		err = rc.Control(func(fd uintptr) {
			if to.Is6() {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE)
			} else {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
			}
		})
		return errors.Join(err, serr)
	})
	if err != nil {
		if c != nil {
			c.Close()
		}
		return r, fmt.Errorf("pmtu: raw socket in %s: %w", from.Name(), err)
	}
	defer c.Close()
	id, seq := rand.IntN(0xffff)+1, 1
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if to.Is6() {
		typ = ipv6.ICMPTypeEchoRequest
	}
	m := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: make([]byte, o.Size-hdr)}}
	b, err := m.Marshal(nil)
	if err != nil {
		return r, err
	}
	if _, err := c.WriteTo(b, &net.IPAddr{IP: to.AsSlice()}); err != nil {
		if errors.Is(err, syscall.EMSGSIZE) {
			r.Other = "the source's own interface MTU is smaller (EMSGSIZE)"
		} else {
			r.Other = "send failed: " + err.Error()
		}
		return r, r.judge(o)
	}
	_ = c.SetReadDeadline(earliest(ctx, start.Add(o.Timeout)))
	buf := make([]byte, 65536)
	for {
		k, peer, err := c.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			return r, fmt.Errorf("pmtu: read: %w", err)
		}
		msg, err := icmp.ParseMessage(proto, buf[:k])
		if err != nil {
			continue
		}
		sender, _ := netip.AddrFromSlice(peer.(*net.IPAddr).IP)
		switch body := msg.Body.(type) {
		case *icmp.Echo:
			if body.ID == id && (msg.Type == ipv4.ICMPTypeEchoReply || msg.Type == ipv6.ICMPTypeEchoReply) {
				r.Passed = true
				return r, r.judge(o)
			}
		case *icmp.PacketTooBig:
			if echoQuoted(body.Data, true, id) {
				r.MTU, r.By = body.MTU, sender.Unmap()
				return r, r.judge(o)
			}
		case *icmp.DstUnreach:
			if !echoQuoted(body.Data, to.Is6(), id) {
				continue
			}
			if msg.Type == ipv4.ICMPTypeDestinationUnreachable && msg.Code == 4 && k >= 8 {
				r.MTU, r.By = int(binary.BigEndian.Uint16(buf[6:8])), sender.Unmap()
			} else {
				r.Other = fmt.Sprintf("destination unreachable (code %d) from %s", msg.Code, sender.Unmap())
			}
			return r, r.judge(o)
		}
	}
	return r, r.judge(o)
}

// echoQuoted reports whether an ICMP error quotes our echo request.
func echoQuoted(b []byte, v6 bool, id int) bool {
	off := 40
	if !v6 {
		if len(b) < 20 {
			return false
		}
		off = int(b[0]&0x0f) * 4
	}
	return len(b) >= off+8 && int(binary.BigEndian.Uint16(b[off+4:])) == id
}

func (r *PMTUResult) judge(o Options) error {
	switch {
	case o.PathMTU == 0 && r.Passed:
		return nil
	case o.PathMTU > 0 && r.MTU == o.PathMTU:
		return nil
	}
	return failf(r, "path MTU probe %s → %s", r.From, r.To)
}

// PMTU is a scenario check: a DF probe of Size bytes from → to passes, or
// with PathMTU(m) gets "fragmentation needed" with MTU m; see PMTUProbe.
func PMTU(from string, to Target, opts ...Option) scenario.CheckFunc {
	return named("PMTU", pmtuReads, PMTUProbe, from, to, opts)
}

// PathMTUIs fails the test unless the DF probe's outcome is as expected;
// see PMTUProbe.
//
// Deprecated: use assert.Check(t, n, assert.PMTU(…)).
func PathMTUIs(t TestingT, from *scenario.Node, to Target, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, from.Network(), PMTU(from.Name(), to, opts...))
}

// HopResult is the evidence of a trace-hop check.
type HopResult struct {
	Trace *TraceResult
	Hop   int
	Want  netip.Addr
	Got   netip.Addr
}

// Evidence renders the hop and the whole trace.
func (r *HopResult) Evidence() string {
	got := "nothing"
	if r.Got.IsValid() {
		got = r.Got.String()
	}
	return fmt.Sprintf("hop %d answered from %s, want %s; %s", r.Hop, got, r.Want, r.Trace.Evidence())
}

// TraceHop traces from a node towards to (like Trace) and checks which
// address answers at hop n (1 is the first router): want.
func TraceHop(ctx context.Context, from *scenario.Node, to netip.Addr, n int, want netip.Addr, opts ...Option) (*HopResult, error) {
	if n < 1 || n > 64 {
		return nil, fmt.Errorf("trace hop: hop %d is out of range 1..64", n)
	}
	tr, err := Trace(ctx, from, to, append(opts, Count(n))...)
	r := &HopResult{Trace: tr, Hop: n, Want: want}
	if err != nil {
		return r, err
	}
	if len(tr.Hops) >= n {
		r.Got = tr.Hops[n-1].From
	}
	if r.Got != want {
		return r, failf(r, "trace %s → %s", from.Name(), to)
	}
	return r, nil
}

// HopIs is a scenario check: tracing from → to, hop n answers from want
// (a node name, for its address on the segment facing from, or an
// address).
func HopIs(from string, to Target, n int, want Target, opts ...Option) scenario.CheckFunc {
	return declare("HopIs", hopReads, opts, names([]string{from}, to, want), checkFunc(func(ctx context.Context, net *scenario.Network) (Evidencer, error) {
		src := net.Node(from)
		dst, err := resolveFor(net, src, to, opts)
		if err != nil {
			return nil, err
		}
		w, err := resolveFor(net, src, want, opts)
		if err != nil {
			return nil, err
		}
		return TraceHop(ctx, src, dst, n, w, opts...)
	}))
}

// HopAnswers fails the test unless hop n of a trace from → to answers
// from want.
//
// Deprecated: use assert.Check(t, n, assert.HopIs(…)).
func HopAnswers(t TestingT, from *scenario.Node, to Target, n int, want netip.Addr, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, from.Network(), HopIs(from.Name(), to, n, want, opts...))
}
