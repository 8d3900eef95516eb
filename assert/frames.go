package assert

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vishvananda/netlink"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/internal/packet"
	"github.com/vtest-dev/vtest/scenario"
)

// Frame is a crafted Ethernet frame. Zero fields take defaults from the
// sending interface: its MAC as source, its address of the destination's
// family as source, UDP, TTL 64; and as destination MAC, what the kernel
// would put there: the MAC of the interface owning the next hop to Dst
// (Dst itself when an interface on the sending interface's segment owns
// it or it is on the sending interface's subnet, else the gateway of the
// sending node's route), looked for on the segment first (through veth
// pairs, switches and bridges inside nodes), so the default means the same
// on every topology; for a multicast or broadcast Dst, the group's or the
// broadcast MAC.
type Frame struct {
	// SrcMAC and DstMAC are MACs, or "node:iface" for that interface's.
	SrcMAC, DstMAC string
	// VLAN, when non-zero, adds an 802.1Q tag with this VLAN ID.
	VLAN int
	// OuterVLAN, when non-zero, adds an 802.1ad tag (TPID 0x88a8) with
	// this VLAN ID outside the 802.1Q one: a double-tagged (QinQ) frame.
	OuterVLAN int
	// Src and Dst are IP addresses; Dst is required.
	Src, Dst string
	// Proto is "udp" (default), "tcp" (a SYN) or "icmp" (an echo request).
	Proto            string
	SrcPort, DstPort int
	// TTL is the IPv4 TTL or IPv6 hop limit (default 64).
	TTL int
	// DF sets IPv4's don't-fragment bit.
	DF bool
	// FlowLabel is the IPv6 flow label.
	FlowLabel uint32
	// DSCP (0..63) and ECN (0..3, ECNECT0…) make the IPv4 TOS or IPv6
	// traffic class byte.
	DSCP, ECN int
	// Payload, when set, is the transport payload instead of the default
	// text.
	Payload []byte
	// Size pads the frame to this many bytes (Ethernet header included).
	Size int
}

// Match selects observed frames; zero fields match anything.
type Match struct {
	// SrcMAC and DstMAC are MACs or "node:iface".
	SrcMAC, DstMAC string
	// VLAN, when non-zero, requires this 802.1Q VLAN ID (the inner tag
	// when OuterVLAN is set); Untagged requires no tag.
	VLAN     int
	Untagged bool
	// OuterVLAN requires an 802.1ad outer tag with this VLAN ID.
	OuterVLAN int
	// TTL requires this IPv4 TTL or IPv6 hop limit.
	TTL int
	// DSCP and ECN require these values of the TOS or traffic class byte
	// (DSCPZero and ECNNotECT for zero).
	DSCP, ECN int
	// VNI requires a VXLAN header with this VNI (UDP port 4789, 8472 or
	// DstPort).
	VNI int
	// Src and Dst are IP addresses.
	Src, Dst string
	// Proto is "udp", "tcp", "icmp" or "icmpv6".
	Proto            string
	SrcPort, DstPort int
	// Func, when set, must also accept the packet.
	Func func(gopacket.Packet) bool
}

// String renders the match like a capture filter.
func (m Match) String() string {
	var p []string
	add := func(k, v string) {
		if v != "" {
			p = append(p, k+" "+v)
		}
	}
	add("ether src", m.SrcMAC)
	add("ether dst", m.DstMAC)
	if m.VLAN > 0 {
		add("vlan", fmt.Sprint(m.VLAN))
	}
	if m.Untagged {
		p = append(p, "not vlan")
	}
	add("src", m.Src)
	add("dst", m.Dst)
	add("proto", m.Proto)
	p = append(p, m.fieldsString()...)
	if m.SrcPort > 0 {
		add("src port", fmt.Sprint(m.SrcPort))
	}
	if m.DstPort > 0 {
		add("dst port", fmt.Sprint(m.DstPort))
	}
	if m.Func != nil {
		p = append(p, "a function of the frame")
	}
	if len(p) == 0 {
		return "any frame"
	}
	return strings.Join(p, " and ")
}

// FramesResult is the evidence of a crafted-traffic check.
type FramesResult struct {
	From, At string
	Sent     int
	Match    string
	Seen     int
	// Other is how many frames arrived that did not match.
	Other  int
	Want   string
	Window time.Duration
	// Examples are the first frames that arrived, matching or not.
	Examples []string
	// SendErr is why the kernel refused to send a frame, if it did.
	SendErr string
}

// Evidence renders the counts.
func (r *FramesResult) Evidence() string {
	s := fmt.Sprintf("%d frame(s) sent from %s; at %s within %v: %d matching (%s), %d other; want %s",
		r.Sent, r.From, r.At, r.Window, r.Seen, r.Match, r.Other, r.Want)
	if r.SendErr != "" {
		s += "; send failed: " + r.SendErr
	}
	if len(r.Examples) > 0 {
		s += "; seen: " + strings.Join(r.Examples, " | ")
	}
	return s
}

// The expectations of a crafted-traffic check, for Expect.
const (
	Exactly      = "exactly"
	AtLeastCount = "at-least"
	NoFrames     = "none"
)

var framesDefaults = Options{Count: 1, Timeout: 200 * time.Millisecond, Expect: Exactly}

// FramesTo sends Count (default 1) crafted frames from one interface
// ("node:iface") and counts the frames matching m that arrive at another
// within Timeout (default 200 ms). Expect: "exactly" (default, Count
// frames), "at-least" (Count or more) or "none". Exactly and none wait for
// the whole window; at-least stops as soon as enough arrived.
func FramesTo(ctx context.Context, n *scenario.Network, from string, f Frame, at string, m Match, opts ...Option) (*FramesResult, error) {
	o, err := build(framesDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("frames: %w", err)
	}
	switch o.Expect {
	case Exactly, AtLeastCount, NoFrames:
	default:
		return nil, fmt.Errorf("frames: expectation %q is not exactly, at-least or none", o.Expect)
	}
	r := &FramesResult{From: from, At: at, Match: m.String(), Window: o.Timeout}
	r.Want = fmt.Sprintf("%s %d", o.Expect, o.Count)
	if o.Expect == NoFrames {
		r.Want = "none"
	}
	sendNode, sendIface, err := splitEnd(n, from)
	if err != nil {
		return r, err
	}
	atNode, atIface, err := splitEnd(n, at)
	if err != nil {
		return r, err
	}
	frame, err := craft(n, sendNode, sendIface, f)
	if err != nil {
		return r, err
	}
	matcher, err := compileMatch(n, m)
	if err != nil {
		return r, err
	}
	obs, err := openPacket(atNode, atIface)
	if err != nil {
		return r, err
	}
	defer obs.close()
	tx, err := openPacket(sendNode, sendIface)
	if err != nil {
		return r, err
	}
	defer tx.close()
	for range max(o.Count, 1) {
		if err := tx.send(frame); err != nil {
			// The kernel would not send it (e.g. no carrier): that is
			// evidence, and the frame cannot arrive.
			r.SendErr = err.Error()
			continue
		}
		r.Sent++
	}
	deadline := earliest(ctx, time.Now().Add(o.Timeout))
	for time.Now().Before(deadline) {
		pkt, err := obs.read(deadline)
		if err != nil {
			break
		}
		if len(r.Examples) < 3 {
			r.Examples = append(r.Examples, summarize(pkt))
		}
		if matcher(pkt) {
			r.Seen++
			if o.Expect == AtLeastCount && r.Seen >= o.Count {
				break
			}
		} else {
			r.Other++
		}
	}
	ok := false
	switch o.Expect {
	case Exactly:
		ok = r.Seen == o.Count
	case AtLeastCount:
		ok = r.Seen >= o.Count
	case NoFrames:
		ok = r.Seen == 0
	}
	if !ok {
		return r, fmt.Errorf("%d matching frame(s) at %s, want %s: %s", r.Seen, at, r.Want, r.Evidence())
	}
	return r, nil
}

// Frames is a scenario check: see FramesTo.
func Frames(from string, f Frame, at string, m Match, opts ...Option) scenario.CheckFunc {
	return declare("Frames", framesReads, opts, framesRefs(ends(from, at), f, m), framesWalk(from, f, at, opts, checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		return FramesTo(ctx, n, from, f, at, m, opts...)
	})))
}

// SeesFrames fails the test unless the frames arrive as expected; see
// FramesTo.
//
// Deprecated: use assert.Check(t, n, assert.Frames(…)).
func SeesFrames(t TestingT, n *scenario.Network, from string, f Frame, at string, m Match, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, n, Frames(from, f, at, m, opts...))
}

// craft builds the frame's bytes.
func craft(n *scenario.Network, nd *scenario.Node, iface string, f Frame) ([]byte, error) {
	ifc := nd.Interface(iface)
	if ifc == nil {
		return nil, fmt.Errorf("frames: %s has no interface %q", nd.Name(), iface)
	}
	dst, err := netip.ParseAddr(f.Dst)
	if err != nil {
		return nil, fmt.Errorf("frames: destination %q is not an address", f.Dst)
	}
	if err := f.fieldsProblem(); err != nil {
		return nil, fmt.Errorf("frames: %w", err)
	}
	var src netip.Addr
	if f.Src != "" {
		if src, err = netip.ParseAddr(f.Src); err != nil {
			return nil, fmt.Errorf("frames: source %q is not an address", f.Src)
		}
		// An answer goes to the node the frame claims to come from: it
		// is used, as if it had sent the frame.
		if owner := ownerNode(n, src); owner != nil {
			if err := inside.Use(owner); err != nil {
				return nil, fmt.Errorf("frames: %w", err)
			}
		}
	} else if src = firstAddr(ifc, dst.Is4()); !src.IsValid() {
		return nil, fmt.Errorf("frames: %s:%s has no %s address; set Frame.Src", nd.Name(), iface, family(dst.Is6()))
	}
	srcMAC, dstMAC := ifc.MAC, net.HardwareAddr(nil)
	if f.SrcMAC != "" {
		if srcMAC, err = macOf(n, f.SrcMAC); err != nil {
			return nil, err
		}
	}
	if f.DstMAC != "" {
		if dstMAC, err = macOf(n, f.DstMAC); err != nil {
			return nil, err
		}
	} else if dstMAC, err = defaultDstMAC(n, nd, ifc, dst); err != nil {
		return nil, err
	}
	ttl := f.TTL
	if ttl == 0 {
		ttl = 64
	}
	sport, dport := f.SrcPort, f.DstPort
	if sport == 0 {
		sport = 40000
	}
	if dport == 0 {
		dport = 9
	}
	ethType := layers.EthernetTypeIPv4
	if dst.Is6() {
		ethType = layers.EthernetTypeIPv6
	}
	ls := f.link(srcMAC, dstMAC, ethType)
	var netLayer gopacket.NetworkLayer
	proto := strings.ToLower(f.Proto)
	if proto == "" {
		proto = "udp"
	}
	if dst.Is4() {
		ip := &layers.IPv4{Version: 4, TTL: uint8(ttl), TOS: f.tos(), SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		if f.DF {
			ip.Flags = layers.IPv4DontFragment
		}
		switch proto {
		case "udp":
			ip.Protocol = layers.IPProtocolUDP
		case "tcp":
			ip.Protocol = layers.IPProtocolTCP
		case "icmp":
			ip.Protocol = layers.IPProtocolICMPv4
		default:
			return nil, fmt.Errorf("frames: protocol %q is not udp, tcp or icmp", f.Proto)
		}
		netLayer = ip
		ls = append(ls, ip)
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: uint8(ttl), TrafficClass: f.tos(), FlowLabel: f.FlowLabel, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		switch proto {
		case "udp":
			ip.NextHeader = layers.IPProtocolUDP
		case "tcp":
			ip.NextHeader = layers.IPProtocolTCP
		case "icmp", "icmpv6":
			ip.NextHeader = layers.IPProtocolICMPv6
		default:
			return nil, fmt.Errorf("frames: protocol %q is not udp, tcp or icmp", f.Proto)
		}
		netLayer = ip
		ls = append(ls, ip)
	}
	payload := []byte("vtest crafted frame")
	switch proto {
	case "udp":
		u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		_ = u.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, u)
	case "tcp":
		tc := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: true, Window: 64240, Seq: 1}
		_ = tc.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, tc)
		payload = nil
	default:
		if dst.Is4() {
			ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 0x7e57, Seq: 1})
		} else {
			ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
			_ = ic.SetNetworkLayerForChecksum(netLayer)
			ls = append(ls, ic, &layers.ICMPv6Echo{Identifier: 0x7e57, SeqNumber: 1})
		}
	}
	if f.Payload != nil {
		payload = f.Payload
	}
	header := 14 + 4*f.tags() + 20 + 8
	if dst.Is6() {
		header += 20
	}
	if f.Size > header+len(payload) {
		payload = append(payload, make([]byte, f.Size-header-len(payload))...)
	}
	ls = append(ls, gopacket.Payload(payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		return nil, fmt.Errorf("frames: build: %w", err)
	}
	return buf.Bytes(), nil
}

// defaultDstMAC is the destination MAC the kernel would use for a packet
// to dst leaving ifc of nd: a multicast group's MAC, the broadcast MAC,
// or the MAC of the interface owning the next hop, looked for first on
// ifc's segment.
func defaultDstMAC(n *scenario.Network, nd *scenario.Node, ifc *scenario.Interface, dst netip.Addr) (net.HardwareAddr, error) {
	switch {
	case dst.Is4() && dst.IsMulticast():
		b := dst.As4()
		return net.HardwareAddr{0x01, 0x00, 0x5e, b[1] & 0x7f, b[2], b[3]}, nil
	case dst.Is6() && dst.IsMulticast():
		b := dst.As16()
		return net.HardwareAddr{0x33, 0x33, b[12], b[13], b[14], b[15]}, nil
	case dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return broadcastMAC, nil
	}
	seg := segment(n, nd, ifc)
	onSegment := func(a netip.Addr) net.HardwareAddr {
		for _, e := range seg {
			for _, p := range e.Addrs {
				if p.Addr() == a {
					return e.MAC
				}
			}
		}
		return nil
	}
	if mac := onSegment(dst); mac != nil {
		return mac, nil // the destination is on the segment
	}
	hop := dst
	onLink := false
	for _, a := range ifc.Addrs {
		if a.Contains(dst) {
			onLink = true
			if dst.Is4() && a.Bits() < 31 && dst == lastAddr(a) {
				return broadcastMAC, nil // the subnet's broadcast address
			}
		}
	}
	if !onLink {
		routes, err := nd.Netlink().RouteGetWithOptions(dst.AsSlice(), &netlink.RouteGetOptions{Oif: ifc.Name})
		if err != nil || len(routes) == 0 {
			return nil, fmt.Errorf("frames: %s has no route to %s through %s (%v): set Frame.DstMAC", nd.Name(), dst, ifc.Name, err)
		}
		if gw, ok := netip.AddrFromSlice(routes[0].Gw); ok && gw.IsValid() {
			hop = gw.Unmap()
		}
	}
	if mac := onSegment(hop); mac != nil {
		return mac, nil
	}
	if o := owner(n, hop); o != nil {
		return o.MAC, nil
	}
	return nil, fmt.Errorf("frames: no interface of scenario %q owns %s, the next hop from %s:%s to %s: set Frame.DstMAC", n.Spec().Name, hop, nd.Name(), ifc.Name, dst)
}

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// lastAddr is the highest address of an IPv4 prefix (its broadcast).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	v := binary.BigEndian.Uint32(b[:]) | (1<<(32-p.Bits()) - 1)
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// segment returns the interfaces on ifc's Ethernet segment: across veth
// pairs, and through the bridges (a switch's, or one inside a node) their
// ends are ports of, including the bridges themselves.
func segment(n *scenario.Network, nd *scenario.Node, ifc *scenario.Interface) []*scenario.Interface {
	type end struct {
		nd  *scenario.Node
		ifc *scenario.Interface
	}
	seen := map[*scenario.Interface]bool{ifc: true}
	queue := []end{{nd, ifc}}
	var out []*scenario.Interface
	add := func(x *scenario.Node, i *scenario.Interface) {
		if i != nil && !seen[i] {
			seen[i] = true
			queue = append(queue, end{x, i})
			out = append(out, i)
		}
	}
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		if peer, ok := n.Lookup(e.ifc.PeerNode); ok {
			add(peer, peer.Interface(e.ifc.PeerInterface))
		}
		bridge := ""
		if e.ifc.Switches {
			bridge = e.ifc.Name
		} else if m := e.nd.Interface(e.ifc.Master); m != nil && m.Switches {
			bridge = m.Name
			add(e.nd, m)
		}
		if bridge == "" {
			continue
		}
		for _, port := range e.nd.Interfaces() {
			if port.Master == bridge {
				add(e.nd, port)
			}
		}
	}
	return out
}

// compileMatch resolves a Match's names once.
func compileMatch(n *scenario.Network, m Match) (func(gopacket.Packet) bool, error) {
	var srcMAC, dstMAC net.HardwareAddr
	var err error
	if srcMAC, err = macOf(n, m.SrcMAC); err != nil {
		return nil, err
	}
	if dstMAC, err = macOf(n, m.DstMAC); err != nil {
		return nil, err
	}
	var src, dst netip.Addr
	if m.Src != "" {
		if src, err = netip.ParseAddr(m.Src); err != nil {
			return nil, fmt.Errorf("match: source %q is not an address", m.Src)
		}
	}
	if m.Dst != "" {
		if dst, err = netip.ParseAddr(m.Dst); err != nil {
			return nil, fmt.Errorf("match: destination %q is not an address", m.Dst)
		}
	}
	if err := m.fieldsProblem(); err != nil {
		return nil, err
	}
	proto := strings.ToLower(m.Proto)
	return func(p gopacket.Packet) bool {
		eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		if eth == nil {
			return false
		}
		if srcMAC != nil && eth.SrcMAC.String() != srcMAC.String() || dstMAC != nil && eth.DstMAC.String() != dstMAC.String() {
			return false
		}
		q := m.tag(p)
		if m.VLAN > 0 && (q == nil || int(q.VLANIdentifier) != m.VLAN) || m.Untagged && q != nil {
			return false
		}
		var ps, pd netip.Addr
		var l4 string
		switch ip := p.NetworkLayer().(type) {
		case *layers.IPv4:
			ps, _ = netip.AddrFromSlice(ip.SrcIP.To4())
			pd, _ = netip.AddrFromSlice(ip.DstIP.To4())
		case *layers.IPv6:
			ps, _ = netip.AddrFromSlice(ip.SrcIP)
			pd, _ = netip.AddrFromSlice(ip.DstIP)
		default:
			if src.IsValid() || dst.IsValid() || proto != "" {
				return false
			}
		}
		if src.IsValid() && ps != src || dst.IsValid() && pd != dst {
			return false
		}
		var sp, dp int
		switch t := p.TransportLayer().(type) {
		case *layers.UDP:
			l4, sp, dp = "udp", int(t.SrcPort), int(t.DstPort)
		case *layers.TCP:
			l4, sp, dp = "tcp", int(t.SrcPort), int(t.DstPort)
		default:
			if p.Layer(layers.LayerTypeICMPv4) != nil {
				l4 = "icmp"
			} else if p.Layer(layers.LayerTypeICMPv6) != nil {
				l4 = "icmpv6"
			}
		}
		if proto != "" && proto != l4 || m.SrcPort > 0 && sp != m.SrcPort || m.DstPort > 0 && dp != m.DstPort {
			return false
		}
		return m.matchesFields(p) && (m.Func == nil || m.Func(p))
	}, nil
}

func summarize(p gopacket.Packet) string {
	var parts []string
	for _, l := range p.Layers() {
		switch l := l.(type) {
		case *layers.Ethernet:
			parts = append(parts, fmt.Sprintf("%s > %s", l.SrcMAC, l.DstMAC))
		case *layers.Dot1Q:
			parts = append(parts, fmt.Sprintf("vlan %d", l.VLANIdentifier))
		case *layers.IPv4:
			parts = append(parts, fmt.Sprintf("%s > %s ttl %d tos %#x", l.SrcIP, l.DstIP, l.TTL, l.TOS))
		case *layers.IPv6:
			parts = append(parts, fmt.Sprintf("%s > %s hlim %d", l.SrcIP, l.DstIP, l.HopLimit))
		case *layers.UDP:
			parts = append(parts, fmt.Sprintf("udp %d > %d", l.SrcPort, l.DstPort))
		case *layers.TCP:
			parts = append(parts, fmt.Sprintf("tcp %d > %d", l.SrcPort, l.DstPort))
		case *layers.ARP:
			parts = append(parts, "arp")
		case *layers.ICMPv4, *layers.ICMPv6:
			parts = append(parts, l.LayerType().String())
		}
	}
	return strings.Join(parts, " ")
}

// packetSock is an AF_PACKET socket bound to one interface of a node
// (internal/packet's Socket, which puts stripped VLAN tags back with their
// TPID).
type packetSock struct{ *packet.Socket }

func openPacket(nd *scenario.Node, iface string) (*packetSock, error) {
	if nd.Interface(iface) == nil {
		return nil, fmt.Errorf("%s has no interface %q", nd.Name(), iface)
	}
	var sn *packet.Socket
	if err := inside.Do(nd, func() (err error) { sn, err = packet.Open(iface); return err }); err != nil {
		return nil, fmt.Errorf("packet socket on %s:%s: %w", nd.Name(), iface, err)
	}
	return &packetSock{sn}, nil
}

func (s *packetSock) close() { s.Close() }

func (s *packetSock) send(frame []byte) error { return s.Write(frame) }

// read returns the next frame received (not sent) on the interface before
// the deadline, with its VLAN tag restored.
func (s *packetSock) read(deadline time.Time) (gopacket.Packet, error) {
	for {
		frame, outgoing, err := s.ReadDir(deadline)
		if err != nil {
			return nil, err
		}
		if !outgoing {
			return gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default), nil
		}
	}
}

// Deliver is a step that sends one crafted frame from an interface
// ("node:iface") and waits (up to Timeout, default 200 ms) until it
// arrives, matching m, at another: the frame changed the network (a
// bridge learned its source, say) by the time the step returns.
func Deliver(from string, f Frame, at string, m Match, opts ...Option) scenario.Action {
	return deliver{from: from, f: f, at: at, m: m, opts: opts}
}

type deliver struct {
	from, at string
	f        Frame
	m        Match
	opts     []Option
}

// Refs names the interfaces and checks the options, for Validate.
func (d deliver) Refs() scenario.CheckRefs {
	return optionRefs("Deliver", readsTimeout, d.opts, ends(d.from, d.at))
}

func (d deliver) String() string {
	return fmt.Sprintf("send a frame %s → %s from %s and see it at %s", orAny(d.f.SrcMAC), orAny(d.f.DstMAC), d.from, d.at)
}

func orAny(s string) string {
	if s == "" {
		return "(default)"
	}
	return s
}

func (d deliver) Run(ctx context.Context, n *scenario.Network) error {
	_, err := FramesTo(ctx, n, d.from, d.f, d.at, d.m, append(d.opts, Count(1), Expect(AtLeastCount))...)
	return err
}
