package assert_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
	"github.com/vtest-dev/vtest/scenarios"
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

// TestFrameDefaultDstMAC: a frame without DstMAC goes to the MAC of the
// node owning its destination (or the next hop to it), whatever lies
// between: a bridge inside a node (which would consume a frame to its
// port's MAC), a switch, a router.
func TestFrameDefaultDstMAC(t *testing.T) {
	hostcheck.RequireRoot(t)
	inNodeBridge := func() *scenario.Spec {
		s := scenario.Define("in-node-bridge", "")
		s.Host("sw").Iface("br0", scenario.Bridge{}).Port("swp1", scenario.BridgePort{}).Port("swp2", scenario.BridgePort{})
		s.Host("h1")
		s.Host("h2")
		s.Link("h1", "sw:swp1").Addrs("192.0.2.1/24", "").Addrs("2001:db8:1::1/64", "")
		s.Link("h2", "sw:swp2").Addrs("192.0.2.2/24", "").Addrs("2001:db8:1::2/64", "")
		return s
	}
	switched := func() *scenario.Spec {
		s := scenario.Define("switched", "")
		s.Switch("net").Subnet("192.0.2.0/24").Subnet("2001:db8:1::/64")
		s.Host("h1")
		s.Host("h2")
		s.Link("h1", "net").Addrs("192.0.2.1/24", "").Addrs("2001:db8:1::1/64", "")
		s.Link("h2", "net").Addrs("192.0.2.2/24", "").Addrs("2001:db8:1::2/64", "")
		return s
	}
	for _, c := range []struct {
		name string
		spec func() *scenario.Spec
	}{{"bridge inside a node", inNodeBridge}, {"switch", switched}} {
		t.Run(c.name, func(t *testing.T) {
			n := scenario.New(t, c.spec())
			for _, dst := range []string{"192.0.2.2", "2001:db8:1::2"} {
				r, err := assert.FramesTo(ctx, n, "h1:eth0", assert.Frame{Dst: dst}, "h2:eth0",
					assert.Match{SrcMAC: "h1:eth0", DstMAC: "h2:eth0", Dst: dst, Proto: "udp"}, assert.Timeout(100*time.Millisecond))
				mustPass(t, "default destination MAC to "+dst, r, err)
				t.Log(evidenceOf(r))
			}
		})
	}
	t.Run("router", func(t *testing.T) {
		n := scenario.New(t, scenarios.Routed())
		dst := n.Node("server").IPv4().String()
		r, err := assert.FramesTo(ctx, n, "client:eth0", assert.Frame{Dst: dst}, "server:eth0",
			assert.Match{SrcMAC: "router:eth1", DstMAC: "server:eth0", Dst: dst, Proto: "udp"}, assert.Timeout(100*time.Millisecond))
		mustPass(t, "default destination MAC through a router", r, err)
		_, err = assert.FramesTo(ctx, n, "client:eth0", assert.Frame{Dst: "10.0.1.99"}, "server:eth0", assert.Match{})
		if err == nil || !strings.Contains(err.Error(), "no interface of scenario \"routed\" owns 10.0.1.99") || !strings.Contains(err.Error(), "set Frame.DstMAC") {
			t.Errorf("a frame to an on-link address nobody owns: %v", err)
		}
	})
}
