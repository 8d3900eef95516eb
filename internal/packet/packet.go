// Package packet is vtest's one AF_PACKET socket: bound to one interface
// of the namespace it is opened in, it reads frames with a deadline and
// writes complete frames. The kernel strips VLAN tags into metadata
// (PACKET_AUXDATA) before a packet socket sees a frame; Socket puts them
// back with the TPID they had, 802.1Q (0x8100) or 802.1ad (0x88a8).
//
// It is a leaf: captures (internal/capture), crafted frames and the
// count of a check's own packets (assert) and the built-in scenarios'
// look at the wire all read through it.
package packet

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket is an AF_PACKET socket bound to one interface.
type Socket struct {
	f     *os.File
	index int
	buf   []byte
	oob   []byte
}

// Open opens a Socket on the interface named iface of the calling
// thread's network namespace (call it inside the namespace, e.g. from a
// scenario node's Do).
func Open(iface string) (*Socket, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("packet socket on %s: %w", iface, err)
	}
	s, err := OpenIndex(ifi.Index)
	if err != nil {
		return nil, fmt.Errorf("packet socket on %s: %w", iface, err)
	}
	return s, nil
}

// OpenIndex opens a Socket on the interface with index ifindex in the
// calling thread's network namespace.
func OpenIndex(ifindex int) (*Socket, error) {
	// Protocol 0 receives nothing until bind names the protocol and the
	// interface: a socket opened with ETH_P_ALL would queue the frames of
	// every interface of the namespace until it is bound.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open AF_PACKET socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("PACKET_AUXDATA: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind to interface %d: %w", ifindex, err)
	}
	return &Socket{f: os.NewFile(uintptr(fd), fmt.Sprintf("packet:%d", ifindex)), index: ifindex, buf: make([]byte, 65536), oob: make([]byte, 256)}, nil
}

// Write transmits a complete frame (an Ethernet frame, tags included, on
// an Ethernet interface) on the interface.
func (s *Socket) Write(frame []byte) error {
	rc, err := s.f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), frame, 0, &unix.SockaddrLinklayer{Ifindex: s.index, Halen: 6})
		return serr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return serr
}

// Drain makes Read return the frames already queued and then
// os.ErrDeadlineExceeded, instead of waiting for more.
func (s *Socket) Drain() error { return s.f.SetReadDeadline(time.Now()) }

// Close closes the socket.
func (s *Socket) Close() error { return s.f.Close() }

// Read returns the next frame, with its VLAN tag reinserted, or
// os.ErrDeadlineExceeded once deadline has passed and no frame is queued.
// A zero deadline keeps the one set before (none, or by Drain).
func (s *Socket) Read(deadline time.Time) ([]byte, error) {
	frame, _, err := s.ReadDir(deadline)
	return frame, err
}

// ReadDir is Read that also says whether the interface sent the frame
// (outgoing) rather than received it.
func (s *Socket) ReadDir(deadline time.Time) (frame []byte, outgoing bool, err error) {
	if !deadline.IsZero() {
		if err := s.f.SetReadDeadline(deadline); err != nil {
			return nil, false, err
		}
	}
	rc, err := s.f.SyscallConn()
	if err != nil {
		return nil, false, err
	}
	var n, oobn int
	var from unix.Sockaddr
	var rerr error
	recv := func(fd uintptr) bool {
		n, oobn, _, from, rerr = unix.Recvmsg(int(fd), s.buf, s.oob, 0)
		return rerr != unix.EAGAIN
	}
	err = rc.Read(recv)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// Past the deadline the poller does not even try: take what is
		// still queued (the socket does not block), then report the
		// deadline.
		if cerr := rc.Control(func(fd uintptr) { recv(fd) }); cerr != nil {
			return nil, false, cerr
		}
		if rerr == unix.EAGAIN {
			return nil, false, err
		}
	} else if err != nil {
		return nil, false, err
	}
	if rerr != nil {
		return nil, false, rerr
	}
	if ll, ok := from.(*unix.SockaddrLinklayer); ok {
		outgoing = ll.Pkttype == unix.PACKET_OUTGOING
	}
	return retag(s.buf[:n], s.oob[:oobn]), outgoing, nil
}

// retag returns a copy of frame with the VLAN tag the kernel stripped
// into the control message oob put back after the MAC addresses, with
// its TPID (0x8100 when the kernel does not say).
func retag(frame, oob []byte) []byte {
	msgs, _ := unix.ParseSocketControlMessage(oob)
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_PACKET || m.Header.Type != unix.PACKET_AUXDATA || len(m.Data) < int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
			continue
		}
		aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0]))
		if aux.Status&unix.TP_STATUS_VLAN_VALID == 0 || len(frame) < 12 {
			continue
		}
		tpid := uint16(unix.ETH_P_8021Q)
		if aux.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
			tpid = aux.Vlan_tpid
		}
		out := make([]byte, 0, len(frame)+4)
		out = append(out, frame[:12]...)
		out = append(out, byte(tpid>>8), byte(tpid), byte(aux.Vlan_tci>>8), byte(aux.Vlan_tci))
		return append(out, frame[12:]...)
	}
	return append([]byte(nil), frame...)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
