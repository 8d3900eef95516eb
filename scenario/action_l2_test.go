package scenario_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// switch3 is a host "sw" bridging p1..p3 (only the members listed) to
// hosts a, b, c on 10.4.0.0/24.
func switch3(name string, br scenario.Bridge, members ...string) *scenario.Spec {
	s := scenario.Define(name, "three hosts on a bridge")
	bi := s.Host("sw").Iface("br0", br).Members(members...)
	if br.VLANFiltering {
		bi.Port("p1", scenario.BridgePort{PVID: 10})
	}
	for i, h := range []string{"a", "b", "c"} {
		s.Host(h)
		s.Link(h, "sw:p"+string(rune('1'+i))).Addrs("10.4.0."+string(rune('1'+i))+"/24", "")
	}
	return s
}

func TestL2ActionsValidated(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  func(s *scenario.Spec)
		want []string
	}{
		{"FDB bad MAC", func(s *scenario.Spec) { s.Step("x", scenario.FDBAdd("sw:p1", scenario.FDB{MAC: "zz"})) }, []string{`step "x"`, `FDB entry "zz" is not a MAC address`, "fix:"}},
		{"FDB kind", func(s *scenario.Spec) {
			s.Step("x", scenario.FDBAdd("sw:p1", scenario.FDB{MAC: "02:00:00:00:00:01", Kind: "sticky"}))
		}, []string{`FDB kind "sticky" is unknown`}},
		{"FDB not a port", func(s *scenario.Spec) { s.Step("x", scenario.FDBAdd("a:eth0", scenario.FDB{MAC: "02:00:00:00:00:01"})) }, []string{`"a:eth0" is not a bridge port`, "Enslave step"}},
		{"FDB VLAN without filtering", func(s *scenario.Spec) {
			s.Step("x", scenario.FDBAdd("sw:p1", scenario.FDB{MAC: "02:00:00:00:00:01", VLAN: 10}))
		}, []string{"VLAN 10 on a bridge that does not filter VLANs"}},
		{"FDB VLAN range", func(s *scenario.Spec) {
			s.Step("x", scenario.FDBDel("sw:p1", scenario.FDB{MAC: "02:00:00:00:00:01", VLAN: 4095}))
		}, []string{"VLAN 4095 is out of range"}},
		{"VXLAN FDB on a veth", func(s *scenario.Spec) {
			s.Step("x", scenario.VXLANFDBAppend("sw:p1", "00:00:00:00:00:00", "10.0.0.1"))
		}, []string{`"sw:p1" is not a VXLAN interface`}},
		{"VXLAN FDB remote", func(s *scenario.Spec) {
			s.Step("x", scenario.VXLANFDBAppend("sw:p1", "00:00:00:00:00:00", "b"))
		}, []string{`VXLAN FDB remote "b" is not an IP address`}},
		{"enslave to a veth", func(s *scenario.Spec) { s.Step("x", scenario.Enslave("sw:p3", "p1")) }, []string{`"p1" is not a bridge or bond`}},
		{"enslave to nothing", func(s *scenario.Spec) { s.Step("x", scenario.Enslave("sw:p3", "br9")) }, []string{`node "sw" has no bridge or bond "br9"`}},
		{"enslave an addressed end", func(s *scenario.Spec) { s.Step("x", scenario.Enslave("a:eth0", "br0")) }, []string{`node "a" has no bridge or bond "br0"`}},
		{"VLAN on a plain bridge", func(s *scenario.Spec) {
			s.Step("x", scenario.BridgeVLANAdd("sw:p1", scenario.BridgeVLAN{VID: 10, PVID: true}))
		}, []string{`the bridge of "sw:p1" does not filter VLANs`, "VLANFiltering: true"}},
		{"VLAN range", func(s *scenario.Spec) { s.Step("x", scenario.BridgeVLANDel("sw:p1", 0)) }, []string{"VLAN 0 is out of range"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := switch3("t", scenario.Bridge{}, "p1", "p2")
			tc.add(s)
			err := s.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q missing from %v", w, err)
				}
			}
		})
	}
	// An FDB step on a port a step before it enslaves is accepted.
	s := switch3("t", scenario.Bridge{}, "p1", "p2")
	s.Step("join", scenario.Enslave("sw:p3", "br0"))
	s.Step("fdb", scenario.FDBAdd("sw:p3", scenario.FDB{MAC: "02:00:00:00:00:01"}))
	if err := s.Validate(); err != nil {
		t.Errorf("FDB on a port enslaved by an earlier step: %v", err)
	}
}

// unresolved bounds a ping that follows a failed one: the failed ping
// left the neighbour entry INCOMPLETE, and the kernel sends its next
// solicitation only when the entry's retransmit timer (1 s) fires.
const unresolved = 3 * time.Second

// step runs the i-th item (a step) and fails the test if it fails.
func step(t *testing.T, ctx context.Context, s *scenario.Spec, n *scenario.Network, name string) string {
	t.Helper()
	for _, it := range s.Items() {
		if it.Name == name {
			r := it.Func(ctx, n)
			if r.Err != nil {
				t.Fatalf("step %q: %v", name, r.Err)
			}
			t.Logf("step %q: %s", name, r.Evidence)
			return r.Evidence
		}
	}
	t.Fatalf("no step %q", name)
	return ""
}

func expect(t *testing.T, what string, pass bool, err error, want ...string) {
	t.Helper()
	switch {
	case pass && err != nil:
		t.Errorf("%s: failed: %v", what, err)
	case !pass && err == nil:
		t.Errorf("%s: passed, want a failure", what)
	case !pass:
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q missing from %v", what, w, err)
			}
		}
	}
}

// TestFDBAddDel: without the static entry a frame for its MAC is flooded
// (reaches c behind p3); FDBAdd makes it leave through p2 only; FDBDel
// floods it again. Local and extern_learn entries are listed as such.
func TestFDBAddDel(t *testing.T) {
	hostcheck.RequireRoot(t)
	ctx := context.Background()
	const mac, local, ext = "02:00:00:00:00:42", "02:00:00:00:00:43", "02:00:00:00:00:44"
	s := switch3("fdb-steps", scenario.Bridge{}, "p1", "p2", "p3")
	s.Step("add static", scenario.FDBAdd("sw:p2", scenario.FDB{MAC: mac}))
	s.Step("add local", scenario.FDBAdd("sw:p3", scenario.FDB{MAC: local, Kind: scenario.FDBLocal}))
	s.Step("add extern", scenario.FDBAdd("sw:p3", scenario.FDB{MAC: ext, Kind: scenario.FDBExternLearn}))
	s.Step("del static", scenario.FDBDel("sw:p2", scenario.FDB{MAC: mac}))
	n := scenario.New(t, s)
	sw := n.Node("sw")
	frame := assert.Frame{DstMAC: mac, Dst: "10.4.0.2", DstPort: 4242}
	seen := assert.Match{DstMAC: mac, DstPort: 4242}
	notFlooded := func() error {
		_, err := assert.FramesTo(ctx, n, "a:eth0", frame, "c:eth0", seen, assert.Expect(assert.NoFrames))
		return err
	}
	hw := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }

	expect(t, "before FDBAdd: frame not flooded to c", false, notFlooded(), "1 matching")
	if ev := step(t, ctx, s, n, "add static"); !strings.Contains(ev, "the kernel lists "+mac+" static") {
		t.Errorf("evidence: %s", ev)
	}
	_, err := assert.FramesTo(ctx, n, "a:eth0", frame, "b:eth0", seen)
	expect(t, "after FDBAdd: frame at b", true, err)
	expect(t, "after FDBAdd: frame not flooded to c", true, notFlooded())
	_, err = assert.FDBLookup(ctx, sw, hw(mac), assert.Via("p2"), assert.Expect(assert.FDBStatic))
	expect(t, "static entry on p2", true, err)

	step(t, ctx, s, n, "add local")
	_, err = assert.FDBLookup(ctx, sw, hw(local), assert.Expect(assert.FDBLocal))
	expect(t, "local entry", true, err)
	step(t, ctx, s, n, "add extern")
	_, err = assert.FDBLookup(ctx, sw, hw(ext), assert.Via("p3"), assert.Expect(assert.FDBExternLearn))
	expect(t, "extern_learn entry on p3", true, err)

	if ev := step(t, ctx, s, n, "del static"); !strings.Contains(ev, "no longer lists it") {
		t.Errorf("evidence: %s", ev)
	}
	_, err = assert.FDBLookup(ctx, sw, hw(mac), assert.Absent())
	expect(t, "static entry gone", true, err)
	expect(t, "after FDBDel: frame not flooded to c", false, notFlooded(), "1 matching")
}

// TestEnslaveRelease: a host behind a port outside the bridge is cut off;
// Enslave joins it, Release cuts it off again.
func TestEnslaveRelease(t *testing.T) {
	hostcheck.RequireRoot(t)
	ctx := context.Background()
	s := switch3("enslave-steps", scenario.Bridge{}, "p1", "p2")
	s.Step("join", scenario.Enslave("sw:p3", "br0"))
	s.Step("leave", scenario.Release("sw:p3"))
	n := scenario.New(t, s)
	a, c := n.Node("a"), netip.MustParseAddr("10.4.0.3")
	ping := func(d time.Duration) error {
		_, err := assert.Ping(ctx, a, c, assert.Count(1), assert.Timeout(d))
		return err
	}
	expect(t, "c not enslaved: a reaches c", false, ping(time.Second))
	if ev := step(t, ctx, s, n, "join"); !strings.Contains(ev, "the kernel reports master br0") {
		t.Errorf("evidence: %s", ev)
	}
	if m := n.Node("sw").Interface("p3").Master; m != "br0" {
		t.Errorf("Interface.Master is %q", m)
	}
	expect(t, "c enslaved: a reaches c", true, ping(unresolved))
	if ev := step(t, ctx, s, n, "leave"); !strings.Contains(ev, "no master") {
		t.Errorf("evidence: %s", ev)
	}
	expect(t, "c released: a reaches c", false, ping(time.Second))
}

// TestVXLANFDBAppend: vtep-a floods to a wrong remote only, so h1 cannot
// reach h2; appending the all-zeros entry towards vtep-b makes it reach.
func TestVXLANFDBAppend(t *testing.T) {
	hostcheck.RequireRoot(t)
	ctx := context.Background()
	s := scenario.Define("vxlan-fdb-steps", "")
	s.Router("router")
	for _, site := range []struct{ vtep, host, underlay, remote, addr string }{
		{"vtep-a", "h1", "10.50.1.0/24", "10.50.9.9", "192.168.50.1/24"},
		{"vtep-b", "h2", "10.50.2.0/24", "10.50.1.1", "192.168.50.2/24"},
	} {
		v := s.Host(site.vtep).Route("default", "router")
		v.Iface("vx0", scenario.VXLAN{VNI: 42, Underlay: "eth0", Remotes: []string{site.remote}})
		v.Iface("br0", scenario.Bridge{}).Members("vx0", "lan")
		s.Link(site.vtep+":eth0", "router").Subnet(site.underlay)
		s.Host(site.host)
		s.Link(site.host, site.vtep+":lan").Addrs(site.addr, "")
	}
	s.Step("flood to b", scenario.VXLANFDBAppend("vtep-a:vx0", "00:00:00:00:00:00", "10.50.2.1"))
	s.Step("stop flooding to b", scenario.VXLANFDBDel("vtep-a:vx0", "00:00:00:00:00:00", "10.50.2.1"))
	n := scenario.New(t, s)
	h1, h2 := n.Node("h1"), netip.MustParseAddr("192.168.50.2")
	ping := func(d time.Duration) error {
		_, err := assert.Ping(ctx, h1, h2, assert.Count(1), assert.Timeout(d))
		return err
	}
	expect(t, "flooding to a wrong remote: h1 reaches h2", false, ping(time.Second))
	if ev := step(t, ctx, s, n, "flood to b"); !strings.Contains(ev, "dst 10.50.9.9, 10.50.2.1") {
		t.Errorf("evidence: %s", ev)
	}
	expect(t, "flooding to b: h1 reaches h2", true, ping(unresolved))
	if ev := step(t, ctx, s, n, "stop flooding to b"); !strings.Contains(ev, "the kernel lists 00:00:00:00:00:00 dst 10.50.9.9 (") {
		t.Errorf("evidence: %s", ev)
	}
}

// TestBridgeVLANAddDel: a sits in VLAN 10, b in VLAN 1: no reach. Adding
// VLAN 10 as b's port's PVID, untagged, joins them; deleting it cuts b
// off again. Needs bridge VLAN filtering (skips without it).
func TestBridgeVLANAddDel(t *testing.T) {
	hostcheck.RequireRoot(t)
	ctx := context.Background()
	s := switch3("bridge-vlan-steps", scenario.Bridge{VLANFiltering: true}, "p2")
	s.Step("p2 joins 10", scenario.BridgeVLANAdd("sw:p2", scenario.BridgeVLAN{VID: 10, PVID: true, Untagged: true}))
	s.Step("p2 leaves 10", scenario.BridgeVLANDel("sw:p2", 10))
	n := scenario.New(t, s)
	a, b := n.Node("a"), netip.MustParseAddr("10.4.0.2")
	ping := func(d time.Duration) error {
		_, err := assert.Ping(ctx, a, b, assert.Count(1), assert.Timeout(d))
		return err
	}
	expect(t, "different VLANs: a reaches b", false, ping(time.Second))
	if ev := step(t, ctx, s, n, "p2 joins 10"); !strings.Contains(ev, "vid 10 pvid untagged") {
		t.Errorf("evidence: %s", ev)
	}
	expect(t, "same VLAN: a reaches b", true, ping(unresolved))
	if ev := step(t, ctx, s, n, "p2 leaves 10"); strings.Contains(ev, "vid 10") {
		t.Errorf("evidence: %s", ev)
	}
	expect(t, "VLAN 10 deleted from p2: a reaches b", false, ping(time.Second))
}
