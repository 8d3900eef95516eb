package assert

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestEchoIsReply checks what an echo socket accepts as a reply to its
// requests, without a network: only an echo reply carrying its identifier
// and payload, from its target.
func TestEchoIsReply(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		to, other := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.9")
		var typ byte = 0
		from := func(a netip.Addr) unix.Sockaddr { return &unix.SockaddrInet4{Addr: a.As4()} }
		if v6 {
			to, other, typ = netip.MustParseAddr("fd00::2"), netip.MustParseAddr("fd00::9"), 129
			from = func(a netip.Addr) unix.Sockaddr { return &unix.SockaddrInet6{Addr: a.As16()} }
		}
		s := &echoSocket{v6: v6, id: 0x1234, to: to, payload: []byte("nonce-01filler")}
		reply := func(typ byte, id, seq uint16, payload []byte) []byte {
			b := make([]byte, echoHeader, echoHeader+len(payload))
			b[0] = typ
			binary.BigEndian.PutUint16(b[4:], id)
			binary.BigEndian.PutUint16(b[6:], seq)
			return append(b, payload...)
		}
		if seq, ok := s.isReply(reply(typ, 0x1234, 7, s.payload), from(to)); !ok || seq != 7 {
			t.Errorf("v6=%v: a good reply was refused (seq %d, %v)", v6, seq, ok)
		}
		bad := map[string]struct {
			b    []byte
			from netip.Addr
		}{
			"request":         {reply(typ^8, 0x1234, 7, s.payload), to},
			"other id":        {reply(typ, 0x4321, 7, s.payload), to},
			"other payload":   {reply(typ, 0x1234, 7, []byte("nonce-02filler")), to},
			"longer payload":  {reply(typ, 0x1234, 7, append([]byte("nonce-01filler"), 0)), to},
			"shorter payload": {reply(typ, 0x1234, 7, s.payload[:4]), to},
			"other source":    {reply(typ, 0x1234, 7, s.payload), other},
			"truncated":       {reply(typ, 0x1234, 7, nil)[:6], to},
		}
		for name, c := range bad {
			if _, ok := s.isReply(c.b, from(c.from)); ok {
				t.Errorf("v6=%v: %s accepted", v6, name)
			}
		}
	}
}

// TestHopLimit reads the TTL and hop limit control messages.
func TestHopLimit(t *testing.T) {
	msg := func(level, typ int, v int32) []byte {
		b := make([]byte, unix.CmsgSpace(4))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = int32(level), int32(typ)
		h.SetLen(unix.CmsgLen(4))
		binary.NativeEndian.PutUint32(b[unix.CmsgLen(0):], uint32(v))
		return b
	}
	if got := hopLimit(msg(unix.IPPROTO_IP, unix.IP_TTL, 63)); got != 63 {
		t.Errorf("IP_TTL 63 read as %d", got)
	}
	if got := hopLimit(msg(unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, 255)); got != 255 {
		t.Errorf("IPV6_HOPLIMIT 255 read as %d", got)
	}
	if got := hopLimit(msg(unix.IPPROTO_IP, unix.IP_TOS, 63)); got != -1 {
		t.Errorf("IP_TOS read as a TTL: %d", got)
	}
	if got := hopLimit(nil); got != -1 {
		t.Errorf("no control message read as %d", got)
	}
}
