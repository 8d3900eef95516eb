package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/internal/packet"
	"github.com/vtest-dev/vtest/scenario"
)

// wireWait bounds how long onWire waits for a matching frame once act has
// returned; frames act caused are normally queued already.
const wireWait = time.Second

// onWire captures on node:iface while act runs, and passes when act passes
// and a captured frame matches: the evidence that traffic took the form
// the scenario is about (tagged, tunnelled, encrypted).
func onWire(node, iface, want string, match func(gopacket.Packet) (string, bool), act scenario.CheckFunc) scenario.CheckFunc {
	// It names what act names, and node:iface, so Validate checks both.
	refs, _ := scenario.RefsOf(act)
	refs.Ends = append(refs.Ends, node+":"+iface)
	return scenario.Declare(func(ctx context.Context, n *scenario.Network) scenario.Result {
		nd := n.Node(node)
		var c *packet.Socket
		err := inside.Do(nd, func() (err error) {
			c, err = packet.Open(iface)
			return err
		})
		if err != nil {
			return scenario.Verdict("", fmt.Errorf("capture on %s:%s: %w", node, iface, err))
		}
		defer c.Close()
		r := act(ctx, n)
		deadline := time.Now().Add(wireWait)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		frames := 0
		found := ""
		for found == "" {
			frame, err := c.Read(deadline)
			if err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					return scenario.Verdict(r.Evidence, fmt.Errorf("capture on %s:%s: %w", node, iface, err))
				}
				break
			}
			frames++
			if s, ok := match(gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)); ok {
				found = s
			}
		}
		ev := r.Evidence
		if ev != "" {
			ev += "\n"
		}
		if found == "" {
			ev += fmt.Sprintf("on the wire at %s:%s: %d frames, none %s", node, iface, frames, want)
			if r.Err != nil {
				return scenario.Verdict(ev, r.Err)
			}
			return scenario.Verdict(ev, fmt.Errorf("no frame %s seen at %s:%s", want, node, iface))
		}
		ev += fmt.Sprintf("on the wire at %s:%s: %s", node, iface, found)
		return scenario.Verdict(ev, r.Err)
	}, refs)
}

// inner describes the innermost IPv4 packet of a frame, the n-th IPv4
// header or deeper (1 for a plain or tagged frame, 2 inside a tunnel).
func inner(p gopacket.Packet, n int) (string, bool) {
	var last *layers.IPv4
	seen := 0
	for _, l := range p.Layers() {
		if ip, ok := l.(*layers.IPv4); ok {
			last = ip
			seen++
		}
	}
	if last == nil || seen < n {
		return "", false
	}
	return fmt.Sprintf("%s → %s %s", last.SrcIP, last.DstIP, last.Protocol), true
}

// vxlanFrame matches UDP carrying VXLAN with the VNI around an IPv4
// packet from src to dst.
func vxlanFrame(vni uint32, src, dst string) func(gopacket.Packet) (string, bool) {
	return func(p gopacket.Packet) (string, bool) {
		vx, _ := p.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if vx == nil || ip == nil || udp == nil || vx.VNI != vni {
			return "", false
		}
		in, ok := inner(p, 2)
		if !ok || !strings.HasPrefix(in, src+" → "+dst+" ") {
			return "", false // ARP, IGMP, another flow
		}
		return fmt.Sprintf("UDP %s:%d → %s:%d VXLAN vni %d carrying %s", ip.SrcIP, udp.SrcPort, ip.DstIP, udp.DstPort, vx.VNI, in), true
	}
}

// taggedFrame matches an 802.1Q frame of the VLAN carrying IPv4 from src
// to dst.
func taggedFrame(vid uint16, src, dst string) func(gopacket.Packet) (string, bool) {
	return func(p gopacket.Packet) (string, bool) {
		tag, _ := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
		if tag == nil || tag.VLANIdentifier != vid {
			return "", false
		}
		in, ok := inner(p, 1)
		if !ok || !strings.HasPrefix(in, src+" → "+dst+" ") {
			return "", false
		}
		desc := fmt.Sprintf("802.1Q tag %d", tag.VLANIdentifier)
		if eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); eth != nil && eth.EthernetType == layers.EthernetTypeQinQ {
			desc = fmt.Sprintf("802.1ad service tag %d", tag.VLANIdentifier)
			for _, l := range p.Layers() {
				if t, ok := l.(*layers.Dot1Q); ok && t != tag {
					desc += fmt.Sprintf(" around 802.1Q tag %d", t.VLANIdentifier)
				}
			}
		}
		return desc + " carrying " + in, true
	}
}

// wireguardFrame matches a WireGuard data message (type 4) to the port.
func wireguardFrame(port uint16) func(gopacket.Packet) (string, bool) {
	return func(p gopacket.Packet) (string, bool) {
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if ip == nil || udp == nil || uint16(udp.DstPort) != port || len(udp.Payload) < 32 || udp.Payload[0] != 4 {
			return "", false
		}
		return fmt.Sprintf("UDP %s:%d → %s:%d WireGuard data message, %d bytes, payload opaque", ip.SrcIP, udp.SrcPort, ip.DstIP, udp.DstPort, len(udp.Payload)), true
	}
}
