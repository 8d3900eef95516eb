package scenario_test

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/internal/packet"
	"github.com/vtest-dev/vtest/scenario"
)

// vxlanPair is a — b on the underlay 10.9.0.0/24 with a VXLAN vx0 on each
// (overlay 10.9.1.1 and .2); a's is opts with the remote filled in.
func vxlanPair(name string, a, b scenario.VXLAN) *scenario.Spec {
	s := scenario.Define(name, "")
	a.VNI, a.Underlay, a.Remotes = 90, "eth0", []string{"10.9.0.2"}
	b.VNI, b.Underlay, b.Remotes = 90, "eth0", []string{"10.9.0.1"}
	s.Host("a").Iface("vx0", a).Addrs("10.9.1.1/24")
	s.Host("b").Iface("vx0", b).Addrs("10.9.1.2/24")
	s.Link("a", "b").Subnet("10.9.0.0/24")
	return s
}

// outerHeader sends a UDP datagram with TOS tos from a to b over the
// overlay and returns the outer IPv4 header's TTL and TOS and the outer
// UDP checksum of the VXLAN packet carrying it, captured on b's underlay.
func outerHeader(t *testing.T, n *scenario.Network, tos int) (ttl, otos byte, csum uint16) {
	t.Helper()
	a, b := n.Node("a"), n.Node("b")
	assert.Reachable(t, a, netip.MustParseAddr("10.9.1.2")) // the overlay's ARP done
	var sn *packet.Socket
	if err := b.Do(func() (err error) { sn, err = packet.Open("eth0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	var c *net.UDPConn
	if err := a.Do(func() (err error) {
		c, err = net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(10, 9, 1, 2), Port: 7309})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, _ := c.SyscallConn()
	_ = raw.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS, tos) })
	if _, err := c.Write([]byte("outer header")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		f, err := sn.Read(deadline)
		if err != nil {
			t.Fatalf("no VXLAN packet carrying the datagram on b:eth0: %v", err)
		}
		// Outer Ethernet, IPv4 (no options), UDP 4789, VXLAN; inner
		// Ethernet, IPv4, UDP to port 7309.
		const ip, udp, in = 14, 34, 50 + 14
		if len(f) < in+28 || binary.BigEndian.Uint16(f[12:]) != unix.ETH_P_IP || f[ip+9] != unix.IPPROTO_UDP ||
			binary.BigEndian.Uint16(f[udp+2:]) != 4789 || f[in+9] != unix.IPPROTO_UDP || binary.BigEndian.Uint16(f[in+22:]) != 7309 {
			continue
		}
		return f[ip+8], f[ip+1], binary.BigEndian.Uint16(f[udp+6:])
	}
}

// TestVXLANOuterHeader: TTL and TOS set on a VXLAN are what the outer
// header carries on the underlay, InheritTOS copies the inner TOS, and
// without them the outer header has the kernel's defaults (TTL 64, TOS 0)
// — so a TTL or TOS not applied fails. The outer UDP checksum is never 0:
// vtest offers no udpcsum option because IPv4 VXLAN checksums are on.
func TestVXLANOuterHeader(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, tc := range []struct {
		name             string
		vx               scenario.VXLAN
		inner            int
		wantTTL, wantTOS byte
	}{
		{"set", scenario.VXLAN{TTL: 17, TOS: 0x28}, 0, 17, 0x28},
		{"inherit", scenario.VXLAN{InheritTOS: true}, 0xb8, 64, 0xb8},
		{"default", scenario.VXLAN{}, 0xb8, 64, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := scenario.New(t, vxlanPair("vxlan-outer", tc.vx, scenario.VXLAN{}))
			ttl, tos, csum := outerHeader(t, n, tc.inner)
			if ttl != tc.wantTTL || tos != tc.wantTOS {
				t.Errorf("outer header TTL %d TOS %#x, want TTL %d TOS %#x", ttl, tos, tc.wantTTL, tc.wantTOS)
			}
			if csum == 0 {
				t.Error("outer UDP checksum 0: IPv4 VXLAN sent without checksums, which the documentation says never happens")
			}
			t.Logf("outer header: TTL %d, TOS %#x, UDP checksum %#04x (inner TOS %#x)", ttl, tos, csum, tc.inner)
			l, err := n.Node("a").Netlink().LinkByName("vx0")
			if err != nil {
				t.Fatal(err)
			}
			if vx := l.(*netlink.Vxlan); vx.TTL != tc.vx.TTL {
				t.Errorf("vx0 TTL read back %d, want %d", vx.TTL, tc.vx.TTL)
			}
		})
	}
}

func TestVXLANOptionsValidated(t *testing.T) {
	for _, tc := range []struct {
		vx   scenario.VXLAN
		want string
	}{
		{scenario.VXLAN{TTL: 300}, "TTL 300 is out of range"},
		{scenario.VXLAN{TOS: 1}, "TOS 1 is the kernel's code for inherit"},
		{scenario.VXLAN{TOS: 256}, "TOS 256 is out of range"},
		{scenario.VXLAN{TOS: 8, InheritTOS: true}, "has both TOS 8 and InheritTOS"},
		{scenario.VXLAN{Ageing: 1500 * time.Millisecond}, "ageing 1.5s is not a whole number of seconds"},
	} {
		err := vxlanPair("t", tc.vx, scenario.VXLAN{}).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "fix:") {
			t.Errorf("%+v: %v, want %q", tc.vx, err, tc.want)
		}
	}
}

// learned returns whether b's vx0 has learned a's vx0 MAC behind a's
// underlay address (a learned, not a static, entry), and the entry.
func learned(t *testing.T, n *scenario.Network) (bool, string) {
	t.Helper()
	la, err := n.Node("a").Netlink().LinkByName("vx0")
	if err != nil {
		t.Fatal(err)
	}
	lb, err := n.Node("b").Netlink().LinkByName("vx0")
	if err != nil {
		t.Fatal(err)
	}
	fdb, err := n.Node("b").Netlink().NeighList(lb.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range fdb {
		if e.HardwareAddr.String() == la.Attrs().HardwareAddr.String() && e.IP.String() == "10.9.0.1" {
			return true, e.String()
		}
	}
	return false, ""
}

// TestVXLANLearningAndAgeing: a VTEP with learning on learns the remote
// MAC behind its underlay address, one with NoLearning does not (learning
// is per end); a learned entry of a VTEP with Ageing 1s is gone after the
// kernel's cleanup (every 10 s), where the default 300 s keeps it.
func TestVXLANLearningAndAgeing(t *testing.T) {
	hostcheck.RequireRoot(t)
	nets := map[string]*scenario.Network{}
	for name, b := range map[string]scenario.VXLAN{
		"learning": {}, "no-learning": {NoLearning: true}, "ageing": {Ageing: time.Second},
	} {
		nets[name] = scenario.New(t, vxlanPair("vxlan-"+name, scenario.VXLAN{NoLearning: true}, b))
		assert.Reachable(t, nets[name].Node("a"), netip.MustParseAddr("10.9.1.2"))
	}
	lb, _ := nets["ageing"].Node("b").Netlink().LinkByName("vx0")
	if age := lb.(*netlink.Vxlan).Age; age != 1 {
		t.Errorf("ageing read back %d s, want 1", age)
	}
	for name, want := range map[string]bool{"learning": true, "no-learning": false, "ageing": true} {
		if got, e := learned(t, nets[name]); got != want {
			t.Errorf("%s: learned entry %v (%s), want %v", name, got, e, want)
		}
	}
	// The kernel's cleanup runs every 10 s: within 12 s the entry of the
	// 1 s VTEP is gone.
	deadline := time.Now().Add(12 * time.Second)
	for {
		gone, _ := learned(t, nets["ageing"])
		if !gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the learned entry of a VTEP with Ageing 1s outlived 12 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got, _ := learned(t, nets["learning"]); !got {
		t.Error("the learned entry of a VTEP with the default ageing is gone too")
	}
}
