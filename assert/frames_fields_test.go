package assert_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// vxlanHeader is a VXLAN header (RFC 7348) with vni, and a few inner bytes.
func vxlanHeader(vni int) []byte {
	return append([]byte{0x08, 0, 0, 0, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}, bytes.Repeat([]byte{0xee}, 14)...)
}

// TestFrameFields: TOS (DSCP, ECN), TTL, double tags, raw payload and
// the VNI of a VXLAN header reach the wire and are matched; each
// mismatching twin counts 0 matching and 1 other.
func TestFrameFields(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair())
	dst := n.Node("right").IPv4().String()
	frames := func(f assert.Frame, m assert.Match) (*assert.FramesResult, error) {
		f.Dst, m.Dst = dst, dst
		return assert.FramesTo(ctx, n, "left:eth0", f, "right:eth0", m, assert.Timeout(100*time.Millisecond))
	}
	for _, tc := range []struct {
		name string
		f    assert.Frame
		m    assert.Match
		pass bool
	}{
		{"DSCP EF and ECT(0)", assert.Frame{DSCP: 46, ECN: assert.ECNECT0}, assert.Match{DSCP: 46, ECN: assert.ECNECT0}, true},
		{"DSCP AF11 is not EF", assert.Frame{DSCP: 10}, assert.Match{DSCP: 46}, false},
		{"CE is not ECT(0)", assert.Frame{DSCP: 46, ECN: assert.ECNCE}, assert.Match{DSCP: 46, ECN: assert.ECNECT0}, false},
		{"default is best effort, Not-ECT", assert.Frame{}, assert.Match{DSCP: assert.DSCPZero, ECN: assert.ECNNotECT}, true},
		{"ECT(1) is not Not-ECT", assert.Frame{ECN: assert.ECNECT1}, assert.Match{ECN: assert.ECNNotECT}, false},
		{"TTL 7", assert.Frame{TTL: 7}, assert.Match{TTL: 7}, true},
		{"TTL 8 is not 7", assert.Frame{TTL: 8}, assert.Match{TTL: 7}, false},
		{"802.1ad 100 over 802.1Q 10", assert.Frame{OuterVLAN: 100, VLAN: 10}, assert.Match{OuterVLAN: 100, VLAN: 10}, true},
		{"inner tag 20 is not 10", assert.Frame{OuterVLAN: 100, VLAN: 20}, assert.Match{OuterVLAN: 100, VLAN: 10}, false},
		{"outer tag 200 is not 100", assert.Frame{OuterVLAN: 200, VLAN: 10}, assert.Match{OuterVLAN: 100, VLAN: 10}, false},
		{"an 802.1Q tag is no 802.1ad tag", assert.Frame{VLAN: 100}, assert.Match{OuterVLAN: 100}, false},
		{"single 802.1ad tag", assert.Frame{OuterVLAN: 300}, assert.Match{OuterVLAN: 300}, true},
		{"raw payload", assert.Frame{Payload: []byte("raw \x00\x01 bytes")}, assert.Match{Func: payloadIs("raw \x00\x01 bytes")}, true},
		{"other payload", assert.Frame{Payload: []byte("other")}, assert.Match{Func: payloadIs("raw \x00\x01 bytes")}, false},
		{"VNI 42 on 4789", assert.Frame{DstPort: 4789, Payload: vxlanHeader(42)}, assert.Match{VNI: 42}, true},
		{"VNI 43 is not 42", assert.Frame{DstPort: 4789, Payload: vxlanHeader(43)}, assert.Match{VNI: 42}, false},
		{"VNI 77 on Linux's 8472", assert.Frame{DstPort: 8472, Payload: vxlanHeader(77)}, assert.Match{VNI: 77}, true},
		{"VNI on a chosen port", assert.Frame{DstPort: 4790, Payload: vxlanHeader(5)}, assert.Match{VNI: 5, DstPort: 4790}, true},
		{"no VXLAN header, no VNI", assert.Frame{DstPort: 4789, Payload: []byte("not vxlan at all")}, assert.Match{VNI: 42}, false},
	} {
		r, err := frames(tc.f, tc.m)
		if tc.pass {
			mustPass(t, tc.name, r, err)
		} else {
			mustFail(t, tc.name, r, err, "0 matching", "1 other")
		}
	}
}

func payloadIs(want string) func(gopacket.Packet) bool {
	return func(p gopacket.Packet) bool {
		u, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		return u != nil && string(u.Payload) == want
	}
}

// TestFrameFieldsValidate: out-of-range fields are refused before
// anything is built.
func TestFrameFieldsValidate(t *testing.T) {
	for _, tc := range []struct {
		f    assert.Frame
		m    assert.Match
		want string
	}{
		{assert.Frame{DSCP: 64}, assert.Match{}, "frame DSCP 64 is outside 0..63"},
		{assert.Frame{ECN: 4}, assert.Match{}, "frame ECN 4"},
		{assert.Frame{OuterVLAN: 4095}, assert.Match{}, "frame OuterVLAN 4095"},
		{assert.Frame{}, assert.Match{VNI: 1 << 24}, "match VNI 16777216"},
		{assert.Frame{}, assert.Match{TTL: 256}, "match TTL 256"},
		{assert.Frame{}, assert.Match{OuterVLAN: 5, Untagged: true}, "an outer tag and no tag"},
	} {
		tc.f.Dst = "10.0.2.1"
		err := checked("c", assert.Frames("client:eth0", tc.f, "r1:eth0", tc.m)).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
	m := assert.Match{OuterVLAN: 100, VLAN: 10, TTL: 63, DSCP: 46, ECN: assert.ECNCE, VNI: 42}
	if got, want := m.String(), "vlan 10 and 802.1ad vlan 100 and ttl 63 and dscp 46 and ecn 3 and vxlan vni 42"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
