package assert_test

import (
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// outerTPID is the TPID of a frame's first tag, 0 for an untagged frame.
func outerTPID(p gopacket.Packet) layers.EthernetType {
	eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if eth == nil || eth.EthernetType != layers.EthernetTypeQinQ && eth.EthernetType != layers.EthernetTypeDot1Q {
		return 0
	}
	return eth.EthernetType
}

// TestFramesKeep8021adTPID: a frame sent with an 802.1ad tag is seen at
// the other end of the link with TPID 0x88a8, not rewritten to 0x8100
// when the packet socket puts back the tag the kernel stripped; an
// 802.1Q tag stays 0x8100.
func TestFramesKeep8021adTPID(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair())
	dst := n.Node("right").IPv4().String()
	tpidIs := func(want layers.EthernetType) func(gopacket.Packet) bool {
		return func(p gopacket.Packet) bool { return outerTPID(p) == want }
	}
	for _, tc := range []struct {
		name string
		f    assert.Frame
		m    assert.Match
		pass bool
	}{
		{"802.1ad stays 0x88a8", assert.Frame{OuterVLAN: 300}, assert.Match{Func: tpidIs(layers.EthernetTypeQinQ)}, true},
		{"802.1ad is not 0x8100", assert.Frame{OuterVLAN: 300}, assert.Match{Func: tpidIs(layers.EthernetTypeDot1Q)}, false},
		{"802.1Q stays 0x8100", assert.Frame{VLAN: 300}, assert.Match{Func: tpidIs(layers.EthernetTypeDot1Q)}, true},
	} {
		tc.f.Dst, tc.m.Dst = dst, dst
		r, err := assert.FramesTo(ctx, n, "left:eth0", tc.f, "right:eth0", tc.m, assert.Timeout(100*time.Millisecond))
		if tc.pass {
			mustPass(t, tc.name, r, err)
		} else {
			mustFail(t, tc.name, r, err, "0 matching", "1 other")
		}
	}
}
