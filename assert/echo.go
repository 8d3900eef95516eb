package assert

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/scenario"
)

// echoSocket is an ICMP datagram ("ping") socket opened in a node: the
// kernel writes the echo identifier (the socket's own) and the checksum,
// and hands the socket only echo replies carrying its identifier, so
// concurrent pings in one node never see each other's replies. The socket
// may be used from any goroutine; reads honour deadlines through Go's
// poller. The node's net.ipv4.ping_group_range (it governs IPv4 and IPv6
// alike) is opened first, so no raw socket is needed.
type echoSocket struct {
	f       *os.File
	raw     syscall.RawConn
	v6      bool
	id      uint16        // the identifier the kernel gave the socket
	dst     unix.Sockaddr // the target, its zone resolved in the node
	to      netip.Addr
	payload []byte // echoed back verbatim: a random nonce, then filler
}

// echoHeader is the length of an ICMP echo header.
const echoHeader = 8

// openEcho opens an echo socket in node nd for target to (IPv4 unless to
// is IPv6), bound to source and to the device iface when they are set,
// asking the kernel for each reply's TTL or hop limit.
func openEcho(nd *scenario.Node, to, source netip.Addr, iface string, size int) (*echoSocket, error) {
	to, source = to.Unmap(), source.Unmap()
	s := &echoSocket{v6: to.Is6(), to: to.WithZone("")}
	if source.IsValid() && source.Is6() != s.v6 {
		return nil, fmt.Errorf("source %s and target %s are of different IP versions", source, to)
	}
	var err error
	if s.dst, err = sockaddr(nd, to, 0); err != nil {
		return nil, err
	}
	local := sockaddr4or6(s.v6)
	if source.IsValid() {
		if local, err = sockaddr(nd, source, 0); err != nil {
			return nil, err
		}
	}
	// The nonce tells this ping's replies from late ones to an earlier
	// socket that had the same identifier; counting bytes fill the rest.
	s.payload = make([]byte, max(size, 8))
	binary.NativeEndian.PutUint64(s.payload, rand.Uint64())
	for i := 8; i < len(s.payload); i++ {
		s.payload[i] = byte(i)
	}
	s.payload = s.payload[:size]

	family, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if s.v6 {
		family, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	if err := inside.OpenPing(nd); err != nil {
		return nil, err
	}
	var fd int
	err = inside.Do(nd, func() (err error) {
		fd, err = unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
		return err
	})
	if err != nil {
		if errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("open ICMP datagram socket: %w (net.ipv4.ping_group_range of node %q does not include this process's group)", err, nd.Name())
		}
		return nil, fmt.Errorf("open ICMP datagram socket: %w", err)
	}
	if err := s.setup(fd, local, iface); err != nil {
		unix.Close(fd)
		return nil, err
	}
	s.f = os.NewFile(uintptr(fd), "icmp-echo")
	if s.raw, err = s.f.SyscallConn(); err != nil {
		s.f.Close()
		return nil, err
	}
	return s, nil
}

// setup sets the socket's options and binds it.
func (s *echoSocket) setup(fd int, local unix.Sockaddr, iface string) error {
	if s.v6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1); err != nil {
			return fmt.Errorf("ask for hop limits: %w", err)
		}
	} else if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVTTL, 1); err != nil {
		return fmt.Errorf("ask for TTLs: %w", err)
	}
	if iface != "" {
		// The device name is looked up in the socket's namespace.
		if err := unix.BindToDevice(fd, iface); err != nil {
			return fmt.Errorf("bind to interface %q: %w", iface, err)
		}
	}
	if err := unix.Bind(fd, local); err != nil {
		return fmt.Errorf("bind to %s: %w", sockaddrString(local), err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fmt.Errorf("read the echo identifier: %w", err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		s.id = uint16(sa.Port)
	case *unix.SockaddrInet6:
		s.id = uint16(sa.Port)
	}
	return nil
}

// sockaddr converts a into a socket address; a zone (link-local IPv6) is
// an interface name or index of node nd, resolved there and never in the
// host.
func sockaddr(nd *scenario.Node, a netip.Addr, port int) (unix.Sockaddr, error) {
	a = a.Unmap()
	if a.Is4() {
		return &unix.SockaddrInet4{Addr: a.As4(), Port: port}, nil
	}
	sa := &unix.SockaddrInet6{Addr: a.As16(), Port: port}
	if z := a.Zone(); z != "" {
		if i, err := strconv.ParseUint(z, 10, 32); err == nil {
			sa.ZoneId = uint32(i)
		} else if nl := nd.Netlink(); nl == nil {
			return nil, fmt.Errorf("zone %q of %s: node %q has no netlink handle", z, a, nd.Name())
		} else if l, err := nl.LinkByName(z); err != nil {
			return nil, fmt.Errorf("zone %q of %s: no such interface in node %q: %w", z, a, nd.Name(), err)
		} else {
			sa.ZoneId = uint32(l.Attrs().Index)
		}
	}
	return sa, nil
}

func sockaddr4or6(v6 bool) unix.Sockaddr {
	if v6 {
		return &unix.SockaddrInet6{}
	}
	return &unix.SockaddrInet4{}
}

func sockaddrString(sa unix.Sockaddr) string {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(sa.Addr).String()
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(sa.Addr).String()
	}
	return fmt.Sprint(sa)
}

// Close closes the socket.
func (s *echoSocket) Close() error { return s.f.Close() }

// send sends the echo request with sequence number seq.
func (s *echoSocket) send(pkt []byte, seq uint16) error {
	pkt[0] = 8 // echo request
	if s.v6 {
		pkt[0] = 128
	}
	binary.BigEndian.PutUint16(pkt[6:], seq)
	var err error
	werr := s.raw.Write(func(fd uintptr) bool {
		err = unix.Sendto(int(fd), pkt, 0, s.dst)
		return err != unix.EAGAIN
	})
	if werr != nil {
		return werr
	}
	return err
}

// pong is one echo reply read from an echo socket.
type pong struct {
	seq uint16
	ttl int // -1: unknown
	at  time.Time
}

// read returns the next echo reply to this socket's requests that comes
// from the target and carries the payload sent; anything else is skipped.
// It returns os.ErrDeadlineExceeded when the read deadline passes.
func (s *echoSocket) read(buf, oob []byte) (pong, error) {
	for {
		var n, oobn int
		var from unix.Sockaddr
		var err error
		rerr := s.raw.Read(func(fd uintptr) bool {
			n, oobn, _, from, err = unix.Recvmsg(int(fd), buf, oob, 0)
			return err != unix.EAGAIN
		})
		if rerr != nil {
			return pong{}, rerr
		}
		if err != nil {
			return pong{}, err
		}
		at := time.Now()
		if seq, ok := s.isReply(buf[:n], from); ok {
			return pong{seq: seq, ttl: hopLimit(oob[:oobn]), at: at}, nil
		}
	}
}

// isReply tells whether b, received from from, is an echo reply to this
// socket from the target with the payload sent, and returns its sequence
// number.
func (s *echoSocket) isReply(b []byte, from unix.Sockaddr) (uint16, bool) {
	typ := byte(0) // echo reply
	if s.v6 {
		typ = 129
	}
	if len(b) != echoHeader+len(s.payload) || b[0] != typ || b[1] != 0 ||
		binary.BigEndian.Uint16(b[4:]) != s.id || string(b[echoHeader:]) != string(s.payload) {
		return 0, false
	}
	var src netip.Addr
	switch sa := from.(type) {
	case *unix.SockaddrInet4:
		src = netip.AddrFrom4(sa.Addr)
	case *unix.SockaddrInet6:
		src = netip.AddrFrom16(sa.Addr)
	}
	if src.Unmap() != s.to {
		return 0, false
	}
	return binary.BigEndian.Uint16(b[6:]), true
}

// hopLimit returns the TTL (IPv4) or hop limit (IPv6) carried in a
// control message, or -1.
func hopLimit(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return -1
	}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		if (m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TTL) ||
			(m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_HOPLIMIT) {
			return int(int32(binary.NativeEndian.Uint32(m.Data)))
		}
	}
	return -1
}

// echoPlan is what one ping sends: warm-up probes first (sequence numbers
// 0..warmup-1, not counted), then count counted probes, interval apart;
// timeout bounds the whole run.
type echoPlan struct {
	warmup, count int
	interval      time.Duration
	timeout       time.Duration
}

// run sends the plan's probes and reads their replies into r until every
// probe sent is answered, the timeout passes or ctx is done. The counted
// probes start when every warm-up probe is answered, or when half of the
// timeout is gone. A reply is counted once, however often it comes; a
// reply to a warm-up probe is never counted. A probe a local queue dropped
// (ENOBUFS) counts as sent and lost; any other error sending ends the run.
func (s *echoSocket) run(ctx context.Context, p echoPlan, start time.Time, r *PingResult) error {
	total := p.warmup + p.count
	deadline := start.Add(p.timeout)
	warmupUntil := start.Add(p.timeout / 2)

	// Cancellation moves the deadlines into the past at once; mu keeps a
	// deadline set by the loop from undoing it.
	var mu sync.Mutex
	canceled := false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		canceled = true
		s.f.SetDeadline(time.Unix(1, 0))
	})
	defer stop()
	setReadDeadline := func(t time.Time) bool {
		mu.Lock()
		defer mu.Unlock()
		if canceled {
			return false
		}
		s.f.SetReadDeadline(t)
		return true
	}
	mu.Lock()
	if !canceled {
		s.f.SetWriteDeadline(deadline)
	}
	mu.Unlock()
	sentAt := make([]time.Time, total) // zero: not sent, or lost locally
	answered := make([]bool, total)
	pending, pendingWarmup := 0, 0
	pkt := make([]byte, echoHeader+len(s.payload))
	copy(pkt[echoHeader:], s.payload)
	buf := make([]byte, len(pkt)+1) // one more byte: a longer datagram does not match
	oob := make([]byte, unix.CmsgSpace(4))

	next, nextAt := 0, start
	for {
		now := time.Now()
		if !now.Before(deadline) {
			return ctx.Err()
		}
		for next < total && !now.Before(nextAt) {
			if next == p.warmup && pendingWarmup > 0 && now.Before(warmupUntil) {
				break // the counted probes wait for the warm-up replies
			}
			counted := next >= p.warmup
			// Stamped before the send, as ping does: the kernel may take
			// long to return from it (under emulation, milliseconds),
			// and the packet may be on its way, or delayed (netem
			// starts counting at enqueue), before it returns; a stamp
			// after it would make round trips look shorter than they are.
			at := time.Now()
			err := s.send(pkt, uint16(next))
			switch {
			case err == nil:
				sentAt[next] = at
				pending++
				if !counted {
					pendingWarmup++
				}
			case errors.Is(err, unix.ENOBUFS):
				// Dropped by a queue of the node's own: lost.
			case errors.Is(err, os.ErrDeadlineExceeded):
				return ctx.Err()
			default:
				return fmt.Errorf("send echo request %d: %w", next, err)
			}
			if counted {
				r.Sent++
			}
			next++
			now = time.Now()
			nextAt = now.Add(p.interval)
		}
		if next == total && pending == 0 {
			return nil // every reply is in
		}
		wake := deadline
		if next < total {
			wakeSend := nextAt
			if next == p.warmup && pendingWarmup > 0 {
				wakeSend = later(nextAt, warmupUntil)
			}
			wake = earlier(wake, wakeSend)
		}
		if !setReadDeadline(wake) {
			return ctx.Err()
		}
		reply, err := s.read(buf, oob)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("read echo replies: %w", err)
		}
		i := int(reply.seq)
		if i >= total || sentAt[i].IsZero() || answered[i] {
			continue // not ours, or a duplicate
		}
		answered[i] = true
		pending--
		if i < p.warmup {
			pendingWarmup--
			continue
		}
		r.Received++
		r.RTTs = append(r.RTTs, reply.at.Sub(sentAt[i]))
		if reply.ttl >= 0 {
			r.TTLs = append(r.TTLs, uint8(reply.ttl))
		}
	}
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
