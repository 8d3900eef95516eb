package assert

import (
	"encoding/binary"
	"fmt"
	"net"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vtest-dev/vtest/scenario"
)

// The ECN codepoints (RFC 3168) of Frame.ECN and Match.ECN. In a Match,
// ECNNotECT requires Not-ECT (0 matches any).
const (
	ECNNotECT = -1
	ECNECT1   = 1
	ECNECT0   = 2
	ECNCE     = 3
)

// DSCPZero in Match.DSCP requires DSCP 0, best effort (0 matches any).
const DSCPZero = -1

// tos is the frame's IPv4 TOS or IPv6 traffic class: DSCP and ECN.
func (f Frame) tos() uint8 { return uint8(f.DSCP<<2 | f.ECN) }

// fieldsProblem says what is wrong with the frame's QoS and tag fields.
func (f Frame) fieldsProblem() error {
	switch {
	case f.DSCP < 0 || f.DSCP > 63:
		return fmt.Errorf("frame DSCP %d is outside 0..63", f.DSCP)
	case f.ECN < 0 || f.ECN > 3:
		return fmt.Errorf("frame ECN %d is outside 0..3", f.ECN)
	case f.VLAN < 0 || f.VLAN > 4094:
		return fmt.Errorf("frame VLAN %d is outside 1..4094", f.VLAN)
	case f.OuterVLAN < 0 || f.OuterVLAN > 4094:
		return fmt.Errorf("frame OuterVLAN %d is outside 1..4094", f.OuterVLAN)
	}
	return nil
}

// link returns the frame's Ethernet header and VLAN tags for a payload of
// ethType: an 802.1ad tag (TPID 0x88a8) for OuterVLAN, then an 802.1Q
// tag for VLAN.
func (f Frame) link(src, dst net.HardwareAddr, ethType layers.EthernetType) []gopacket.SerializableLayer {
	eth := &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: ethType}
	ls := []gopacket.SerializableLayer{eth}
	next := &eth.EthernetType
	if f.OuterVLAN > 0 {
		*next = layers.EthernetTypeQinQ
		s := &layers.Dot1Q{VLANIdentifier: uint16(f.OuterVLAN), Type: ethType}
		ls, next = append(ls, s), &s.Type
	}
	if f.VLAN > 0 {
		*next = layers.EthernetTypeDot1Q
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: uint16(f.VLAN), Type: ethType})
	}
	return ls
}

// tags is how many VLAN tags the frame carries.
func (f Frame) tags() int { return min(f.VLAN, 1) + min(f.OuterVLAN, 1) }

// fieldsProblem says what is wrong with the match's TTL, QoS, tag and VNI
// fields.
func (m Match) fieldsProblem() error {
	switch {
	case m.TTL < 0 || m.TTL > 255:
		return fmt.Errorf("match TTL %d is outside 1..255", m.TTL)
	case m.DSCP < DSCPZero || m.DSCP > 63:
		return fmt.Errorf("match DSCP %d is outside 1..63 (DSCPZero for 0)", m.DSCP)
	case m.ECN < ECNNotECT || m.ECN > 3:
		return fmt.Errorf("match ECN %d is outside 1..3 (ECNNotECT for 0)", m.ECN)
	case m.VLAN < 0 || m.VLAN > 4094 || m.OuterVLAN < 0 || m.OuterVLAN > 4094:
		return fmt.Errorf("match VLAN %d / OuterVLAN %d is outside 1..4094", m.VLAN, m.OuterVLAN)
	case m.VNI < 0 || m.VNI > 1<<24-1:
		return fmt.Errorf("match VNI %d is outside 1..16777215", m.VNI)
	case m.OuterVLAN > 0 && m.Untagged:
		return fmt.Errorf("match wants an outer tag and no tag")
	}
	return nil
}

// fieldsString renders the match's TTL, QoS, outer tag and VNI fields.
func (m Match) fieldsString() []string {
	var p []string
	if m.OuterVLAN > 0 {
		p = append(p, fmt.Sprintf("802.1ad vlan %d", m.OuterVLAN))
	}
	if m.TTL > 0 {
		p = append(p, fmt.Sprintf("ttl %d", m.TTL))
	}
	if m.DSCP != 0 {
		p = append(p, fmt.Sprintf("dscp %d", max(m.DSCP, 0)))
	}
	if m.ECN != 0 {
		p = append(p, fmt.Sprintf("ecn %d", max(m.ECN, 0)))
	}
	if m.VNI > 0 {
		p = append(p, fmt.Sprintf("vxlan vni %d", m.VNI))
	}
	return p
}

// tag returns the tag Match.VLAN is compared with: the first, or the one
// inside an 802.1ad outer tag when OuterVLAN is set.
func (m Match) tag(p gopacket.Packet) *layers.Dot1Q {
	var tags []*layers.Dot1Q
	for _, l := range p.Layers() {
		if q, ok := l.(*layers.Dot1Q); ok {
			tags = append(tags, q)
		}
	}
	if m.OuterVLAN > 0 {
		if len(tags) < 2 {
			return nil
		}
		return tags[1]
	}
	if len(tags) == 0 {
		return nil
	}
	return tags[0]
}

// matchesFields reports whether p meets the match's outer tag, TTL, QoS
// and VNI fields.
func (m Match) matchesFields(p gopacket.Packet) bool {
	if m.OuterVLAN > 0 {
		eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		q, _ := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
		if eth == nil || eth.EthernetType != layers.EthernetTypeQinQ || q == nil || int(q.VLANIdentifier) != m.OuterVLAN {
			return false
		}
	}
	if m.TTL > 0 || m.DSCP != 0 || m.ECN != 0 {
		var ttl, tos uint8
		switch ip := p.NetworkLayer().(type) {
		case *layers.IPv4:
			ttl, tos = ip.TTL, ip.TOS
		case *layers.IPv6:
			ttl, tos = ip.HopLimit, ip.TrafficClass
		default:
			return false
		}
		if m.TTL > 0 && int(ttl) != m.TTL || m.DSCP != 0 && int(tos>>2) != max(m.DSCP, 0) || m.ECN != 0 && int(tos&3) != max(m.ECN, 0) {
			return false
		}
	}
	if m.VNI > 0 {
		vni, ok := vxlanVNI(p, m.DstPort)
		if !ok || vni != m.VNI {
			return false
		}
	}
	return true
}

// vxlanVNI returns the VNI of a VXLAN packet: UDP to port 4789 (IANA),
// 8472 (Linux's default) or port, with a VXLAN header (RFC 7348: the I
// flag set, the reserved bits clear).
func vxlanVNI(p gopacket.Packet, port int) (int, bool) {
	u, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if u == nil || !(u.DstPort == 4789 || u.DstPort == 8472 || port > 0 && int(u.DstPort) == port) {
		return 0, false
	}
	h := u.Payload
	if len(h) < 8 || h[0] != 0x08 || h[1]|h[2]|h[3]|h[7] != 0 {
		return 0, false
	}
	return int(binary.BigEndian.Uint32(h[4:8]) >> 8), true
}

// framesRefs adds to a frames check's refs the problems of its frame and
// match fields, so Validate refuses them before anything is built.
func framesRefs(refs scenario.CheckRefs, f Frame, m Match) scenario.CheckRefs {
	for _, err := range []error{f.fieldsProblem(), m.fieldsProblem()} {
		if err != nil {
			refs.Problems = append(refs.Problems, scenario.CheckProblem{
				Problem: "assert.Frames: " + err.Error(),
				Fix:     "use a value in range",
			})
		}
	}
	return refs
}
