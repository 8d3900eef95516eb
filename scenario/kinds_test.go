package scenario_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestBridgesInsideARouter: a router holding two bridges with explicit
// port names and addresses routes between the hosts on them; the hosts'
// links are layer 2 on the router's side.
func TestBridgesInsideARouter(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("two-bridges", "")
	r := s.Router("r")
	r.Iface("br-a", scenario.Bridge{}).Members("a1", "a2").Addrs("10.1.0.1/24")
	r.Iface("br-b", scenario.Bridge{}).Members("b1").Addrs("10.2.0.1/24")
	for _, h := range []struct{ name, port, addr, gw string }{
		{"h1", "a1", "10.1.0.11/24", "10.1.0.1"}, {"h2", "a2", "10.1.0.12/24", "10.1.0.1"}, {"h3", "b1", "10.2.0.13/24", "10.2.0.1"},
	} {
		s.Host(h.name).Route("default", h.gw)
		s.Link(h.name, "r:"+h.port).Addrs(h.addr, "")
	}
	n := scenario.New(t, s)
	assert.Reachable(t, n.Node("h1"), n.Node("h2"))
	assert.Reachable(t, n.Node("h1"), n.Node("h3"))
	for _, port := range []string{"a1", "a2", "b1"} {
		ifc := n.Node("r").Interface(port)
		if ifc == nil || len(ifc.Addrs) != 0 || ifc.Master == "" || ifc.Kind != "veth" {
			t.Errorf("r:%s = %+v, want a veth port without addresses", port, ifc)
		}
	}
	if br := n.Node("r").Interface("br-b"); br == nil || br.Kind != "bridge" {
		t.Errorf("r:br-b = %+v", br)
	}
}

// TestSTPLoop: three bridges in a ring with STP on build (a loop is allowed
// then), and hosts on two of them reach each other without a broadcast
// storm: one port of the ring blocks.
func TestSTPLoop(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("stp-ring", "")
	for _, b := range []string{"s1", "s2", "s3"} {
		s.Host(b).Iface("br0", scenario.Bridge{STP: true}).Members("l", "r", "h")
	}
	s.Link("s1:r", "s2:l")
	s.Link("s2:r", "s3:l")
	s.Link("s3:r", "s1:l")
	s.Host("h1")
	s.Host("h3")
	s.Link("h1", "s1:h").Addrs("10.3.0.1/24", "")
	s.Link("h3", "s3:h").Addrs("10.3.0.3/24", "")
	s.Link("s2:h", "h1:spare").L2() // a leaf port, so s2 has three ports too
	start := time.Now()
	n := scenario.New(t, s)
	t.Logf("built in %v (STP forward delay 2 s)", time.Since(start))
	assert.Reachable(t, n.Node("h1"), n.Node("h3"), assert.Count(3))
	blocking := 0
	for _, b := range []string{"s1", "s2", "s3"} {
		for _, p := range []string{"l", "r"} {
			out := ipLink(t, n.Node(b), p)
			if strings.Contains(out, "state blocking") {
				blocking++
			}
		}
	}
	if blocking == 0 {
		t.Errorf("no ring port is blocking: STP did not break the loop")
	}
}

// TestBridgeOptions reads every bridge and port option back from the
// kernel: ageing time, snooping, static FDB, isolation, learning,
// flooding, multicast flooding.
func TestBridgeOptions(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("bridge-options", "")
	s.Host("sw").Iface("br0", scenario.Bridge{
		AgeingTime:          42 * time.Second,
		NoMulticastSnooping: true,
		FDB:                 []scenario.FDBEntry{{MAC: "02:00:00:00:00:42", Port: "p1"}},
	}).Port("p1", scenario.BridgePort{Isolated: true, NoLearning: true}).
		Port("p2", scenario.BridgePort{NoFlood: true, NoMulticastFlood: true})
	s.Host("a")
	s.Host("b")
	s.Link("a", "sw:p1").Addrs("10.4.0.1/24", "")
	s.Link("b", "sw:p2").Addrs("10.4.0.2/24", "")
	n := scenario.New(t, s)
	h := n.Node("sw").Netlink()
	l, err := h.LinkByName("br0")
	if err != nil {
		t.Fatal(err)
	}
	br := l.(*netlink.Bridge)
	if br.AgeingTime == nil || *br.AgeingTime != 4200 {
		t.Errorf("ageing time = %v centiseconds, want 4200", br.AgeingTime)
	}
	if br.MulticastSnooping == nil || *br.MulticastSnooping {
		t.Errorf("multicast snooping = %v, want off", br.MulticastSnooping)
	}
	p1, _ := h.LinkByName("p1")
	p2, _ := h.LinkByName("p2")
	pi1, err := h.LinkGetProtinfo(p1)
	if err != nil {
		t.Fatal(err)
	}
	pi2, _ := h.LinkGetProtinfo(p2)
	if !pi1.Isolated || pi1.Learning || !pi1.Flood || pi2.Isolated || !pi2.Learning || pi2.Flood {
		t.Errorf("p1 %s, p2 %s", pi1.String(), pi2.String())
	}
	fdb, err := h.NeighList(p1.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range fdb {
		// Static (NUD_NOARP), not local (NUD_PERMANENT): it forwards.
		found = found || e.HardwareAddr.String() == "02:00:00:00:00:42" && e.State&netlink.NUD_NOARP != 0 && e.State&netlink.NUD_PERMANENT == 0
	}
	if !found {
		t.Errorf("static FDB entry missing on p1: %+v", fdb)
	}
	if out := ipLink(t, n.Node("sw"), "p2"); !strings.Contains(out, "mcast_flood off") || !strings.Contains(out, "flood off") {
		t.Errorf("ip -d link show p2 (cross-check):\n%s", out)
	}
	if out := ipLink(t, n.Node("sw"), "p1"); !strings.Contains(out, "mcast_flood on") || !strings.Contains(out, "isolated on") {
		t.Errorf("ip -d link show p1 (cross-check):\n%s", out)
	}
}

// TestDumpShowsKinds: the state dump lists the new interfaces
// with their kinds and masters.
func TestDumpShowsKinds(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("dump", "")
	a := s.Host("a")
	a.Iface("vx0", scenario.VXLAN{VNI: 9, Underlay: "eth0", Remotes: []string{"10.5.0.2"}})
	a.Iface("br0", scenario.Bridge{}).Members("vx0")
	s.Host("b")
	s.Host("c").Iface("mv0", scenario.Macvlan{Parent: "b:eth0"}).Addrs("10.5.0.9/24")
	s.Link("a:eth0", "b:eth0").Subnet("10.5.0.0/24")
	n := scenario.New(t, s)
	d := n.DumpState()
	for _, w := range []string{"vx0 vxlan", "master br0", "br0 bridge", "mv0 macvlan", "inet 10.5.0.9/24", "fdb 00:00:00:00:00:00 dev vx0 dst 10.5.0.2"} {
		if !strings.Contains(d, w) {
			t.Errorf("dump lacks %q:\n%s", w, d)
		}
	}
}

// ipLink runs ip -d link show dev in a node's namespace, to cross-check
// vtest with iproute2.
func ipLink(t *testing.T, nd *scenario.Node, dev string) string {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip is not installed (make deps installs iproute2)")
	}
	ns := fmt.Sprintf("--net=/proc/%d/fd/%d", os.Getpid(), nd.NamespaceFd())
	out, err := exec.CommandContext(context.Background(), "nsenter", ns, "ip", "-d", "link", "show", "dev", dev).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -d link show %s: %v\n%s", dev, err, out)
	}
	return string(out)
}

// TestVXLANGroupPortFDB: VTEPs on one segment find each other through a
// multicast group on a non-default port, with learning off and a static
// FDB entry; the entry is read back from the kernel.
func TestVXLANGroupPortFDB(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("vxlan-group", "")
	for _, side := range []struct{ node, addr string }{{"a", "10.8.1.1/24"}, {"b", "10.8.1.2/24"}} {
		s.Host(side.node).Iface("vx0", scenario.VXLAN{VNI: 77, Underlay: "eth0", Group: "239.1.1.77", Port: 8472, NoLearning: side.node == "a",
			FDB: []scenario.VXLANFDB{{MAC: "02:00:00:00:77:77", Remote: "10.8.0.99"}}}).Addrs(side.addr)
	}
	s.Link("a", "b").Subnet("10.8.0.0/24")
	n := scenario.New(t, s)
	assert.Reachable(t, n.Node("a"), netip.MustParseAddr("10.8.1.2"))
	l, err := n.Node("a").Netlink().LinkByName("vx0")
	if err != nil {
		t.Fatal(err)
	}
	vx := l.(*netlink.Vxlan)
	if vx.Port != 8472 || vx.Learning || vx.Group.String() != "239.1.1.77" || vx.VxlanId != 77 {
		t.Errorf("vx0 = port %d learning %v group %s vni %d", vx.Port, vx.Learning, vx.Group, vx.VxlanId)
	}
	fdb, _ := n.Node("a").Netlink().NeighList(l.Attrs().Index, unix.AF_BRIDGE)
	found := false
	for _, e := range fdb {
		found = found || e.HardwareAddr.String() == "02:00:00:00:77:77" && e.IP.String() == "10.8.0.99"
	}
	if !found {
		t.Errorf("static VXLAN FDB entry missing: %+v", fdb)
	}
}

// TestUpperSiblingMode: the interfaces stacked on a parent (macvlan,
// ipvlan) say so with their parent, and whether frames pass between
// siblings in their mode, declared or as the kernel has it; other kinds
// are not Upper.
func TestUpperSiblingMode(t *testing.T) {
	s := scenario.Define("uppers", "")
	h := s.Host("h")
	for _, c := range []struct {
		kind   scenario.LinkKind
		link   netlink.Link
		mode   string
		passes bool
	}{
		{scenario.Macvlan{Parent: "eth0"}, nil, "bridge", true},
		{scenario.Macvlan{Parent: "eth0", Mode: "private"}, nil, "private", false},
		{scenario.Macvlan{Parent: "eth0"}, &netlink.Macvlan{Mode: netlink.MACVLAN_MODE_VEPA}, "vepa", false},
		{scenario.IPVlan{Parent: "host:eth0"}, nil, "l2", true},
		{scenario.IPVlan{Parent: "host:eth0"}, &netlink.IPVlan{Mode: netlink.IPVLAN_MODE_L3}, "l3", false},
	} {
		i := h.Iface("up0", c.kind)
		parent, ok := i.Upper()
		if want := i.Related()[0]; !ok || parent != want {
			t.Errorf("%s: Upper() = %q, %v; want %q, true", i.Describe(), parent, ok, want)
		}
		if mode, passes := i.SiblingMode(c.link); mode != c.mode || passes != c.passes {
			t.Errorf("%s with link %T: SiblingMode = %q, %v; want %q, %v", i.Describe(), c.link, mode, passes, c.mode, c.passes)
		}
	}
	vlan := h.Iface("v10", scenario.VLAN{Parent: "eth0", ID: 10})
	if p, ok := vlan.Upper(); ok {
		t.Errorf("a VLAN is Upper (parent %q): it does not share its parent's wire with siblings", p)
	}
	if mode, passes := vlan.SiblingMode(nil); mode != "" || passes {
		t.Errorf("VLAN SiblingMode = %q, %v; want \"\", false", mode, passes)
	}
}
