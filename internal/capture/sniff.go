package capture

import (
	"errors"
	"net"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sniffer is an AF_PACKET socket bound to one interface that puts VLAN
// tags back into the frames: the kernel strips them into metadata
// (PACKET_AUXDATA) before a packet socket sees them.
type Sniffer struct {
	f     *os.File
	index int
	buf   []byte
	oob   []byte
}

// Sniff opens a Sniffer on iface of the calling thread's namespace.
func Sniff(iface string) (*Sniffer, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, err
	}
	// Protocol 0 receives nothing until bind names the protocol and the
	// interface: a socket opened with ETH_P_ALL would queue the frames of
	// every interface of the namespace until it is bound.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &Sniffer{f: os.NewFile(uintptr(fd), "packet:"+iface), index: ifi.Index, buf: make([]byte, 65536), oob: make([]byte, 256)}, nil
}

// Send transmits a complete Ethernet frame on the interface.
func (s *Sniffer) Send(frame []byte) error {
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
func (s *Sniffer) Drain() error { return s.f.SetReadDeadline(time.Now()) }

// Close closes the socket.
func (s *Sniffer) Close() error { return s.f.Close() }

// Read returns the next frame, with its VLAN tag reinserted, or
// os.ErrDeadlineExceeded once deadline has passed and no frame is queued.
// A zero deadline keeps the one set before (none, or by Drain).
func (s *Sniffer) Read(deadline time.Time) ([]byte, error) {
	frame, _, err := s.ReadDir(deadline)
	return frame, err
}

// ReadDir is Read that also says whether the interface sent the frame
// (outgoing) rather than received it.
func (s *Sniffer) ReadDir(deadline time.Time) (frame []byte, outgoing bool, err error) {
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
	frame = append([]byte(nil), s.buf[:n]...)
	msgs, _ := unix.ParseSocketControlMessage(s.oob[:oobn])
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
		tag := []byte{byte(tpid >> 8), byte(tpid), byte(aux.Vlan_tci >> 8), byte(aux.Vlan_tci)}
		frame = append(frame[:12], append(tag, frame[12:]...)...)
	}
	return frame, outgoing, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
