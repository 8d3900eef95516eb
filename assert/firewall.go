package assert

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/scenario"
)

// VerdictResult is the evidence of a firewall-verdict check.
type VerdictResult struct {
	Proto   string
	From    string
	Dst     netip.AddrPort
	Verdict Verdict
	// ICMP is the ICMP error that answered, with its sender (nil: none).
	ICMP *ICMPError
	// Detail is the socket's error, or what answered.
	Detail string
	// Listener says who listened at the destination.
	Listener string
	Want     Verdict
	Elapsed  time.Duration
}

// Evidence renders the attempt.
func (r *VerdictResult) Evidence() string {
	s := fmt.Sprintf("%s %s → %s: %s", r.Proto, r.From, r.Dst, r.Verdict)
	if r.ICMP != nil {
		s += " (" + r.ICMP.String() + ")"
	}
	if r.Detail != "" {
		s += "; " + r.Detail
	}
	if r.Listener != "" {
		s += "; listener: " + r.Listener
	}
	return s + fmt.Sprintf("; want %s; took %s", r.Want, ms(r.Elapsed))
}

var verdictDefaults = Options{Timeout: 500 * time.Millisecond, Expect: string(Allowed)}

// UDP makes a firewall-verdict check use UDP instead of TCP.
func UDP() Option { return func(o *Options) { o.UDP = true } }

// Listen makes a firewall-verdict check listen on the destination itself
// for its duration (TCP accept, UDP echo), in the node owning the address;
// without it the scenario runs its own service there.
func Listen() Option { return func(o *Options) { o.Listen = true } }

// PortVerdict sends a TCP SYN (connect) or a UDP datagram from a node to
// dst:Port and classifies what comes back: allowed, refused, rejected or
// filtered (see the constants), watching the node's ICMP errors with a raw
// socket to say which ICMP error came back and from whom. It passes when
// the verdict is the expected one (Expect, default allowed). Filtered
// takes the whole Timeout (default 500 ms).
func PortVerdict(ctx context.Context, from *scenario.Node, dst netip.Addr, opts ...Option) (*VerdictResult, error) {
	o, err := build(verdictDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("firewall: %w", err)
	}
	want := Verdict(o.Expect)
	if err := validVerdict(want); err != nil {
		return nil, fmt.Errorf("firewall: expected %w", err)
	}
	if o.Port == 0 {
		return nil, errors.New("firewall: no port: pass assert.Port(n)")
	}
	start := time.Now()
	r := &VerdictResult{Proto: "TCP", From: from.Name(), Dst: netip.AddrPortFrom(dst, uint16(o.Port)), Want: want, Listener: "the scenario's"}
	if o.UDP {
		r.Proto = "UDP"
	}
	defer func() { r.Elapsed = time.Since(start) }()
	if o.Listen {
		stop, err := listen(from.Network(), r.Dst, o.UDP)
		if err != nil {
			return r, err
		}
		defer stop()
		r.Listener = "started by the check"
	}
	watch, err := openICMPWatch(from, dst.Is6())
	if err != nil {
		return r, err
	}
	defer watch.Close()
	deadline := earliest(ctx, start.Add(o.Timeout))
	var sockErr error
	if o.UDP {
		sockErr = udpExchange(from, r.Dst, deadline)
	} else {
		sockErr = tcpConnect(ctx, from, r.Dst, deadline)
	}
	// An ICMP error reaches the raw socket before the transport protocol
	// handles it, so it is queued by now if one came.
	icmpErr, found := watch.find(r.Dst, o.UDP, time.Now().Add(20*time.Millisecond))
	var answered *ICMPError
	if found {
		answered = &icmpErr
	}
	v, detail, ok := verdictOf(sockErr, answered, dst, o.UDP)
	if !ok {
		return r, fmt.Errorf("firewall: %s: %w", r.Dst, sockErr)
	}
	r.Verdict, r.ICMP, r.Detail = v, answered, detail
	if r.Detail == "" && sockErr != nil && !isTimeout(sockErr) {
		r.Detail = sockErr.Error()
	}
	if r.Verdict != want {
		return r, failf(r, "%s %s → %s is %s, want %s", r.Proto, from.Name(), r.Dst, r.Verdict, want)
	}
	return r, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
}

func tcpConnect(ctx context.Context, from *scenario.Node, dst netip.AddrPort, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c, err := dialTCP(ctx, from, netip.Addr{}, dst)
	if err == nil {
		c.Close()
	}
	return err
}

// udpExchange sends one datagram and waits for any answer.
func udpExchange(from *scenario.Node, dst netip.AddrPort, deadline time.Time) error {
	var c *net.UDPConn
	err := inside.Do(from, func() (err error) {
		c, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
		return err
	})
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	if _, err := c.Write([]byte("vtest verdict probe")); err != nil {
		return err
	}
	_, err = c.Read(make([]byte, 2048))
	return err
}

// listen serves dst's port in the node owning dst: accepting TCP
// connections, or echoing UDP datagrams. stop closes it.
func listen(n *scenario.Network, dst netip.AddrPort, udp bool) (stop func(), err error) {
	nd := ownerNode(n, dst.Addr())
	if nd == nil {
		return nil, fmt.Errorf("firewall: Listen: no node of the scenario owns %s", dst.Addr())
	}
	var closer io.Closer
	err = inside.Do(nd, func() error {
		if udp {
			pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(dst))
			if err != nil {
				return err
			}
			closer = pc
			go func() {
				buf := make([]byte, 2048)
				for {
					k, a, err := pc.ReadFromUDPAddrPort(buf)
					if err != nil {
						return
					}
					_, _ = pc.WriteToUDPAddrPort(buf[:k], a)
				}
			}()
			return nil
		}
		l, err := net.Listen("tcp", dst.String())
		if err != nil {
			return err
		}
		closer = l
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("firewall: listen on %s in %s: %w", dst, nd.Name(), err)
	}
	return func() { closer.Close() }, nil
}

// icmpWatch is a raw ICMP socket in the source node that sees the ICMP
// errors answering a TCP or UDP probe.
type icmpWatch struct {
	c  *icmp.PacketConn
	v6 bool
}

func openICMPWatch(nd *scenario.Node, v6 bool) (*icmpWatch, error) {
	c, err := listenICMP(nd, v6)
	if err != nil {
		return nil, err
	}
	return &icmpWatch{c: c, v6: v6}, nil
}

func (w *icmpWatch) Close() error { return w.c.Close() }

// find returns the first ICMP error quoting a packet to dst (TCP or UDP)
// read before the deadline.
func (w *icmpWatch) find(dst netip.AddrPort, udp bool, deadline time.Time) (ICMPError, bool) {
	_ = w.c.SetReadDeadline(deadline)
	proto, l4 := 1, byte(syscall.IPPROTO_TCP)
	if w.v6 {
		proto = 58
	}
	if udp {
		l4 = syscall.IPPROTO_UDP
	}
	buf := make([]byte, 1500)
	for {
		k, peer, err := w.c.ReadFrom(buf)
		if err != nil {
			return ICMPError{}, false
		}
		m, err := icmp.ParseMessage(proto, buf[:k])
		if err != nil {
			continue
		}
		var inner []byte
		switch b := m.Body.(type) {
		case *icmp.DstUnreach:
			inner = b.Data
		case *icmp.TimeExceeded:
			inner = b.Data
		case *icmp.PacketTooBig:
			inner = b.Data
		case *icmp.ParamProb:
			inner = b.Data
		default:
			continue
		}
		if !quotes(inner, w.v6, l4, dst) {
			continue
		}
		from, _ := netip.AddrFromSlice(peer.(*net.IPAddr).IP)
		return icmpErrorOf(m, from.Unmap(), w.v6), true
	}
}

// icmpErrorOf is the ICMPError of a parsed message.
func icmpErrorOf(m *icmp.Message, from netip.Addr, v6 bool) ICMPError {
	e := ICMPError{From: from, V6: v6, Code: m.Code}
	switch t := m.Type.(type) {
	case ipv4.ICMPType:
		e.Type = int(t)
	case ipv6.ICMPType:
		e.Type = int(t)
	}
	return e
}

// quotes reports whether an ICMP error's quoted packet is a TCP or UDP
// packet to dst.
func quotes(b []byte, v6 bool, l4 byte, dst netip.AddrPort) bool {
	var off int
	var proto byte
	var to netip.Addr
	if v6 {
		if len(b) < 40 {
			return false
		}
		off, proto = 40, b[6]
		to = netip.AddrFrom16([16]byte(b[24:40]))
	} else {
		if len(b) < 20 {
			return false
		}
		off, proto = int(b[0]&0x0f)*4, b[9]
		to = netip.AddrFrom4([4]byte(b[16:20]))
	}
	if proto != l4 || len(b) < off+4 || to != dst.Addr() {
		return false
	}
	return binary.BigEndian.Uint16(b[off+2:]) == dst.Port()
}

// Firewall is a scenario check: TCP (or UDP with UDP()) from → to:port
// gets the expected verdict (Expect, default allowed); see PortVerdict.
func Firewall(from string, to Target, port int, opts ...Option) scenario.CheckFunc {
	return named("Firewall", verdictReads, PortVerdict, from, to, opts, Port(port))
}

// VerdictIs fails the test unless from → to:port gets the expected
// verdict; see PortVerdict.
//
// Deprecated: use assert.Check(t, n, assert.Firewall(…)).
func VerdictIs(t TestingT, from *scenario.Node, to Target, port int, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, from.Network(), Firewall(from.Name(), to, port, opts...))
}
