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

func TestCraftedFrames(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair())
	dst := n.Node("right").IPv4().String()
	toRight := assert.Match{DstMAC: "right:eth0", Dst: dst, Proto: "udp", DstPort: 9}
	frames := func(f assert.Frame, m assert.Match, opts ...assert.Option) (*assert.FramesResult, error) {
		return assert.FramesTo(ctx, n, "left:eth0", f, "right:eth0", m, append(opts, assert.Timeout(100*time.Millisecond))...)
	}
	r, err := frames(assert.Frame{Dst: dst}, toRight)
	mustPass(t, "one UDP frame", r, err)
	r, err = frames(assert.Frame{Dst: dst}, toRight, assert.Count(3))
	mustPass(t, "three frames", r, err)
	r, err = frames(assert.Frame{Dst: dst}, toRight, assert.Count(2), assert.Expect(assert.AtLeastCount))
	mustPass(t, "at least two", r, err)

	// Tags and MACs are matched, not just counted.
	r, err = frames(assert.Frame{Dst: dst, VLAN: 10}, assert.Match{VLAN: 10, Dst: dst})
	mustPass(t, "VLAN 10 tag seen", r, err)
	r, err = frames(assert.Frame{Dst: dst, VLAN: 20}, assert.Match{VLAN: 10, Dst: dst})
	mustFail(t, "wrong VLAN", r, err, "0 matching", "1 other", "vlan 20")
	r, err = frames(assert.Frame{Dst: dst, VLAN: 10}, assert.Match{Untagged: true, Dst: dst})
	mustFail(t, "tagged is not untagged", r, err, "0 matching")
	r, err = frames(assert.Frame{Dst: dst, DstMAC: "02:00:00:00:00:99"}, toRight)
	mustFail(t, "wrong MAC", r, err, "0 matching", "02:00:00:00:00:99")

	// TTL, DF and size reach the wire.
	r, err = frames(assert.Frame{Dst: dst, TTL: 7, DF: true, Size: 600}, assert.Match{Dst: dst, Func: func(p gopacket.Packet) bool {
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		return ip != nil && ip.TTL == 7 && ip.Flags&layers.IPv4DontFragment != 0 && len(p.Data()) == 600
	}})
	mustPass(t, "TTL, DF, size", r, err)
	r, err = frames(assert.Frame{Dst: dst, Proto: "tcp", DstPort: 80}, assert.Match{Proto: "tcp", DstPort: 80})
	mustPass(t, "TCP SYN", r, err)

	// None: passes only when nothing matching arrives.
	r, err = frames(assert.Frame{Dst: dst}, toRight, assert.Expect(assert.NoFrames))
	mustFail(t, "none on a working link", r, err, "1 matching")
	if err := n.Apply(ctx, scenario.LinkDown("right:eth0")); err != nil {
		t.Fatal(err)
	}
	r, err = frames(assert.Frame{Dst: dst}, toRight)
	mustFail(t, "exactly one through a down link", r, err, "0 matching")
	r, err = frames(assert.Frame{Dst: dst}, toRight, assert.Expect(assert.NoFrames))
	mustPass(t, "none through a down link", r, err)
}

func TestCraftedFramesIPv6(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := pair()
	s.IPv6 = true
	n := scenario.New(t, s)
	dst := n.Node("right").IPv6().String()
	label := func(want uint32) assert.Match {
		return assert.Match{Dst: dst, Func: func(p gopacket.Packet) bool {
			ip, _ := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
			return ip != nil && ip.FlowLabel == want
		}}
	}
	check := assert.Frames("left:eth0", assert.Frame{Dst: dst, FlowLabel: 0x12345}, "right:eth0", label(0x12345), assert.Timeout(100*time.Millisecond))
	if r := check(ctx, n); r.Err != nil {
		t.Errorf("flow label: %v", r.Err)
	}
	check = assert.Frames("left:eth0", assert.Frame{Dst: dst, FlowLabel: 0x1}, "right:eth0", label(0x12345), assert.Timeout(100*time.Millisecond))
	if r := check(ctx, n); r.Err == nil {
		t.Errorf("a wrong flow label was counted: %s", r.Evidence)
	}
}
