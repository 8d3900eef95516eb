package assert

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/scenario"
)

// prober sends ICMP echo requests with chosen TTLs from a raw socket opened
// in a node and reads every ICMP message that answers them: echo replies,
// time-exceeded and destination-unreachable errors (with who sent them).
// Ping's echo socket (echo.go) only sees echo replies, which is not enough
// to tell "no route" from "rejected" from "no reply", nor to trace hops.
type prober struct {
	c  *icmp.PacketConn
	v6 bool
	id int
	// data is the payload of every request: "vtest-probe" and a random
	// tag, by which a packet socket elsewhere tells this prober's requests
	// from any other (NAT may rewrite the ID, never the payload).
	data []byte
}

type replyKind int

const (
	echoReply replyKind = iota
	timeExceeded
	unreachable
)

type icmpReply struct {
	kind replyKind
	from netip.Addr
	seq  int
	code int
	at   time.Time
}

func (r icmpReply) String() string {
	switch r.kind {
	case echoReply:
		return fmt.Sprintf("echo reply from %s", r.from)
	case timeExceeded:
		return fmt.Sprintf("time exceeded from %s", r.from)
	}
	return fmt.Sprintf("destination unreachable (%s) from %s", unreachName(r.code), r.from)
}

// icmpError is the ICMP error a reply is (not an echo reply).
func (r icmpReply) icmpError(v6 bool) ICMPError {
	e := ICMPError{From: r.from, V6: v6, Code: r.code}
	switch {
	case v6 && r.kind == timeExceeded:
		e.Type = int(ipv6.ICMPTypeTimeExceeded)
	case v6:
		e.Type = int(ipv6.ICMPTypeDestinationUnreachable)
	case r.kind == timeExceeded:
		e.Type = int(ipv4.ICMPTypeTimeExceeded)
	default:
		e.Type = int(ipv4.ICMPTypeDestinationUnreachable)
	}
	return e
}

func unreachName(code int) string {
	names := map[int]string{0: "net unreachable", 1: "host unreachable", 2: "protocol unreachable", 3: "port unreachable",
		9: "net prohibited", 10: "host prohibited", 13: "administratively prohibited"}
	if n, ok := names[code]; ok {
		return n
	}
	return fmt.Sprintf("code %d", code)
}

func openProber(nd *scenario.Node, v6 bool) (*prober, error) {
	c, err := listenICMP(nd, v6)
	if err != nil {
		return nil, err
	}
	return &prober{c: c, v6: v6, id: rand.IntN(0xffff) + 1, data: fmt.Appendf(nil, "vtest-probe %016x", rand.Uint64())}, nil
}

// listenICMP opens a raw ICMP (or ICMPv6) socket in node nd, which sees
// every ICMP message the node receives.
func listenICMP(nd *scenario.Node, v6 bool) (c *icmp.PacketConn, err error) {
	err = inside.Do(nd, func() (err error) {
		if v6 {
			c, err = icmp.ListenPacket("ip6:ipv6-icmp", "::")
		} else {
			c, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open raw ICMP socket in %s: %w", nd.Name(), err)
	}
	return c, nil
}

func (p *prober) Close() error { return p.c.Close() }

// send sends one echo request with the given sequence number and TTL.
func (p *prober) send(dst netip.Addr, seq, ttl int) error {
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if p.v6 {
		typ = ipv6.ICMPTypeEchoRequest
		if err := p.c.IPv6PacketConn().SetHopLimit(ttl); err != nil {
			return err
		}
	} else if err := p.c.IPv4PacketConn().SetTTL(ttl); err != nil {
		return err
	}
	m := icmp.Message{Type: typ, Body: &icmp.Echo{ID: p.id, Seq: seq, Data: p.data}}
	b, err := m.Marshal(nil)
	if err != nil {
		return err
	}
	_, err = p.c.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()})
	return err
}

// read returns the next ICMP message answering one of this prober's
// requests, or an error when the deadline passes.
func (p *prober) read(deadline time.Time) (icmpReply, error) {
	if err := p.c.SetReadDeadline(deadline); err != nil {
		return icmpReply{}, err
	}
	buf := make([]byte, 1500)
	proto := 1
	if p.v6 {
		proto = 58
	}
	for {
		n, peer, err := p.c.ReadFrom(buf)
		if err != nil {
			return icmpReply{}, err
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil {
			continue
		}
		from, _ := netip.AddrFromSlice(peer.(*net.IPAddr).IP)
		r := icmpReply{from: from.Unmap(), code: m.Code, at: time.Now()}
		var inner []byte
		switch body := m.Body.(type) {
		case *icmp.Echo:
			if m.Type != ipv4.ICMPTypeEchoReply && m.Type != ipv6.ICMPTypeEchoReply {
				continue
			}
			if body.ID != p.id {
				continue
			}
			r.kind, r.seq = echoReply, body.Seq
			return r, nil
		case *icmp.TimeExceeded:
			r.kind, inner = timeExceeded, body.Data
		case *icmp.DstUnreach:
			r.kind, inner = unreachable, body.Data
		default:
			continue
		}
		id, seq, ok := p.embeddedEcho(inner)
		if !ok || id != p.id {
			continue
		}
		r.seq = seq
		return r, nil
	}
}

// embeddedEcho parses the IP header and echo header quoted in an ICMP
// error.
func (p *prober) embeddedEcho(b []byte) (id, seq int, ok bool) {
	off := 40
	if !p.v6 {
		if len(b) < 20 {
			return 0, 0, false
		}
		off = int(b[0]&0x0f) * 4
	}
	if len(b) < off+8 {
		return 0, 0, false
	}
	return int(binary.BigEndian.Uint16(b[off+4:])), int(binary.BigEndian.Uint16(b[off+6:])), true
}

// request returns the sequence number of an echo request this prober
// sent, found in a captured frame.
func (p *prober) request(pkt gopacket.Packet) (seq int, ok bool) {
	if ic, _ := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ic != nil && !p.v6 {
		if ic.TypeCode.Type() == layers.ICMPv4TypeEchoRequest && bytes.Equal(ic.Payload, p.data) {
			return int(ic.Seq), true
		}
		return 0, false
	}
	if e, _ := pkt.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo); e != nil && p.v6 {
		ic, _ := pkt.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		if ic != nil && ic.TypeCode.Type() == layers.ICMPv6TypeEchoRequest && bytes.Equal(e.Payload, p.data) {
			return int(e.SeqNumber), true
		}
	}
	return 0, false
}
