package assert_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
	"github.com/vtest-dev/vtest/scenarios"
)

// inNodeBridge is h1 and h2 on a bridge inside the node sw, with port
// options.
func inNodeBridge(p1, p2 scenario.BridgePort) *scenario.Spec {
	s := scenario.Define("in-node-bridge", "")
	s.Host("sw").Iface("br0", scenario.Bridge{}).Port("p1", p1).Port("p2", p2)
	s.Host("h1")
	s.Host("h2")
	s.Link("h1", "sw:p1").Addrs("10.9.0.1/24", "")
	s.Link("h2", "sw:p2").Addrs("10.9.0.2/24", "")
	return s
}

// twoSwitches is h1 on sw1, h2 on sw2, and a trunk between the switches.
func twoSwitches(downTrunk bool) *scenario.Spec {
	s := scenario.Define("two-switches", "")
	sw1 := s.Switch("sw1")
	s.Switch("sw2")
	if downTrunk {
		sw1.Down("trunk")
	}
	s.Host("h1")
	s.Host("h2")
	s.Link("h1", "sw1").Addrs("10.9.1.1/24", "")
	s.Link("h2", "sw2").Addrs("10.9.1.2/24", "")
	s.Link("sw1:trunk", "sw2:trunk")
	return s
}

// overlay is VXLANOverlay with a VNI of each VTEP's own.
func overlay(vniA, vniB int) *scenario.Spec {
	s := scenario.Define("overlay", "")
	s.Router("router")
	for _, site := range []struct {
		vtep, host, underlay, remote, addr string
		vni                                int
	}{
		{"vtep-a", "h1", "10.50.1.0/24", "10.50.2.1", "192.168.50.1/24", vniA},
		{"vtep-b", "h2", "10.50.2.0/24", "10.50.1.1", "192.168.50.2/24", vniB},
	} {
		v := s.Host(site.vtep).Route("default", "router")
		v.Iface("vx0", scenario.VXLAN{VNI: site.vni, Underlay: "eth0", Remotes: []string{site.remote}})
		v.Iface("br0", scenario.Bridge{}).Members("vx0", "lan")
		s.Link(site.vtep+":eth0", "router").Subnet(site.underlay)
		s.Host(site.host)
		s.Link(site.host, site.vtep+":lan").Addrs(site.addr, "")
	}
	return s
}

// macvlans is two macvlan interfaces of a mode on one parent.
func macvlans(mode string) *scenario.Spec {
	s := scenario.Define("macvlans", "")
	s.Host("host")
	s.Host("peer")
	s.Link("host:eth0", "peer:eth0").Subnet("10.40.0.0/24")
	s.Host("c1").Iface("mv0", scenario.Macvlan{Parent: "host:eth0", Mode: mode}).Addrs("10.40.0.11/24")
	s.Host("c2").Iface("mv0", scenario.Macvlan{Parent: "host:eth0", Mode: mode}).Addrs("10.40.0.12/24")
	return s
}

// TestWalkL2Healthy: on healthy networks joined at L2 (a bridge inside a
// node, two switches and a trunk, VXLAN, macvlan, an STP loop) the walk
// finds no break, where it used to say "wrong gateway?".
func TestWalkL2Healthy(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, c := range []struct {
		spec     func() *scenario.Spec
		from, to string
	}{
		{func() *scenario.Spec { return inNodeBridge(scenario.BridgePort{}, scenario.BridgePort{}) }, "h1", "10.9.0.2"},
		{func() *scenario.Spec { return twoSwitches(false) }, "h1", "10.9.1.2"},
		{func() *scenario.Spec { return overlay(42, 42) }, "h1", "192.168.50.2"},
		{func() *scenario.Spec { return macvlans("bridge") }, "c1", "10.40.0.12"},
		{func() *scenario.Spec { return macvlans("bridge") }, "c1", "peer"},
		{stpLoop, "h1", "10.9.2.2"},
	} {
		spec := c.spec()
		t.Run(spec.Name+"/"+c.from+"-"+c.to, func(t *testing.T) {
			n := scenario.New(t, spec)
			if res := assert.Reach(c.from, assert.Target(c.to))(ctx, n); res.Err != nil {
				t.Fatalf("the healthy network does not pass traffic: %v", res.Err)
			}
			if res := assert.Walked(c.from, assert.Target(c.to))(ctx, n); res.Err != nil {
				t.Fatalf("false diagnosis on a healthy network: %v\n%s", res.Err, res.Evidence)
			}
		})
	}
}

// stpLoop is two bridges running STP joined by two trunks: one trunk
// port blocks, and traffic takes the other.
func stpLoop() *scenario.Spec {
	s := scenario.Define("stp-loop", "")
	for _, sw := range []string{"sw1", "sw2"} {
		s.Host(sw).Iface("br0", scenario.Bridge{STP: true}).Members("p", "t1", "t2")
	}
	s.Link("sw1:t1", "sw2:t1")
	s.Link("sw1:t2", "sw2:t2")
	s.Host("h1")
	s.Host("h2")
	s.Link("h1", "sw1:p").Addrs("10.9.2.1/24", "")
	s.Link("h2", "sw2:p").Addrs("10.9.2.2/24", "")
	return s
}

// TestWalkFindsNoBreakOnBuiltins runs the walk on every healthy built-in
// scenario, for every pair of node and target its checks name where
// traffic does flow (a ping passes): it must find no break.
func TestWalkFindsNoBreakOnBuiltins(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, spec := range scenarios.All() {
		t.Run(spec.Name, func(t *testing.T) {
			n := scenario.New(t, spec)
			seen := map[string]bool{}
			for _, c := range spec.Checks() {
				refs, ok := scenario.RefsOf(c.Func)
				if !ok || len(refs.Nodes) == 0 || len(refs.Targets) == 0 {
					continue
				}
				from, ok := n.Lookup(refs.Nodes[0])
				if !ok {
					continue
				}
				var dst netip.Addr
				if nd, ok := n.Lookup(refs.Targets[0]); ok {
					dst = nd.IPv4()
				} else if a, err := netip.ParseAddr(refs.Targets[0]); err == nil {
					dst = a
				}
				key := from.Name() + ">" + dst.String()
				if !dst.IsValid() || seen[key] {
					continue
				}
				seen[key] = true
				if _, err := assert.Ping(ctx, from, dst, assert.Timeout(300*time.Millisecond)); err != nil {
					continue // no traffic here on the healthy network (a NoReach)
				}
				if w := assert.WalkPath(from, dst); w.Break != "" {
					t.Errorf("%s → %s passes traffic, but the walk breaks:\n%s", from.Name(), dst, w.Evidence())
				}
			}
		})
	}
}

// TestWalkNamesTheL2Break: each L2 fault is named by the walk with its
// node, interface and cause, on a network where the fault really stops
// traffic.
func TestWalkNamesTheL2Break(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, fault := range []struct {
		name     string
		spec     func() *scenario.Spec
		inject   func(t *testing.T, n *scenario.Network)
		from, to string
		want     string
	}{
		{"down inter-switch trunk", func() *scenario.Spec { return twoSwitches(true) }, nil, "h1", "10.9.1.2",
			"forward path: sw1: trunk is down"},
		{"STP port not forwarding yet", stpBridge, func(t *testing.T, n *scenario.Network) { restartSTPPort(t, n.Node("sw"), "p2") }, "h1", "10.9.0.2",
			"forward path: sw: bridge port p2 of br0 is in STP state l"},
		{"learning and flooding off", func() *scenario.Spec {
			return inNodeBridge(scenario.BridgePort{}, scenario.BridgePort{NoLearning: true, NoFlood: true})
		}, nil, "h1", "10.9.0.2",
			"forward path: sw: bridge port p2 of br0 has flooding and learning off and no FDB entry for "},
		{"port isolation", func() *scenario.Spec {
			return inNodeBridge(scenario.BridgePort{Isolated: true}, scenario.BridgePort{Isolated: true})
		}, nil, "h1", "10.9.0.2",
			"forward path: sw: bridge ports p1 and p2 of br0 are both isolated"},
		{"VNI mismatch", func() *scenario.Spec { return overlay(4242, 4243) }, nil, "h1", "192.168.50.2",
			"forward path: VNI mismatch: vtep-a:vx0 sends VNI 4242 to 10.50.2.1, but vtep-b:vx0 has VNI 4243"},
		{"VXLAN underlay without a route", func() *scenario.Spec { return overlay(42, 42) },
			func(t *testing.T, n *scenario.Network) {
				if err := n.Apply(ctx, scenario.DelRoute("vtep-a", "default")); err != nil {
					t.Fatal(err)
				}
			}, "h1", "192.168.50.2",
			"forward path: vtep-a:vx0: the underlay to the VTEP 10.50.2.1 breaks: vtep-a has no route to 10.50.2.1"},
		{"macvlan private mode", func() *scenario.Spec { return macvlans("private") }, nil, "c1", "10.40.0.12",
			"forward path: c1: mv0 and c2:mv0 share the parent host:eth0 in modes private and private"},
		{"PVID mismatch on a VLAN-aware bridge", scenarios.BridgeVLAN, nil, "a", "c",
			"forward path: sw: VLAN 10 is not allowed on bridge port p3 ("},
	} {
		t.Run(fault.name, func(t *testing.T) {
			n := scenario.New(t, fault.spec())
			if fault.inject != nil {
				fault.inject(t, n)
			}
			res := assert.Reach(fault.from, assert.Target(fault.to), assert.Timeout(200*time.Millisecond))(ctx, n)
			if res.Err == nil {
				t.Fatalf("traffic passes through the fault: %s", res.Evidence)
			}
			if !strings.Contains(res.Evidence, "first break: "+fault.want) {
				t.Fatalf("the walk does not name the break: want %q in:\n%s", fault.want, res.Evidence)
			}
			t.Logf("%s", res.Evidence[strings.Index(res.Evidence, "first break: "):])
		})
	}
}

// stpBridge is inNodeBridge with STP on.
func stpBridge() *scenario.Spec {
	s := scenario.Define("stp-bridge", "")
	s.Host("sw").Iface("br0", scenario.Bridge{STP: true}).Members("p1", "p2")
	s.Host("h1")
	s.Host("h2")
	s.Link("h1", "sw:p1").Addrs("10.9.0.1/24", "")
	s.Link("h2", "sw:p2").Addrs("10.9.0.2/24", "")
	return s
}

// restartSTPPort takes a port of a bridge running STP down and up again,
// and waits until it is back in the listening or learning state, where
// it forwards nothing for twice the forward delay (4 s).
func restartSTPPort(t *testing.T, nd *scenario.Node, port string) {
	t.Helper()
	l, err := nd.Netlink().LinkByName(port)
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.Netlink().LinkSetDown(l); err != nil {
		t.Fatal(err)
	}
	if err := nd.Netlink().LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		ports, err := nd.BridgePorts()
		if err != nil {
			t.Fatal(err)
		}
		if st := ports[l.Attrs().Index].State; st == "listening" || st == "learning" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:%s did not go back to listening: %+v", nd.Name(), port, ports[l.Attrs().Index])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEventuallyCarriesTheWalk: an Eventually whose last attempt the bound
// cuts off (a 1 s ping in a 300 ms bound) still ends with the walk of that
// attempt, not only "context deadline exceeded".
func TestEventuallyCarriesTheWalk(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, chain())
	setSysctl(t, n.Node("r2"), "net.ipv4.ip_forward", "0")
	res := assert.Eventually(assert.Reach("client", "server"), 300*time.Millisecond, 0)(ctx, n)
	if res.Err == nil {
		t.Fatal("passed with ip_forward=0")
	}
	if !strings.Contains(res.Evidence, "first break: forward path: r2: net.ipv4.ip_forward=0") {
		t.Fatalf("no walk in the evidence of Eventually:\n%s", res.Evidence)
	}
	t.Logf("%s", res.Evidence)
}

// TestDumpShowsL2State: the node dump shows what the L2 walk reads: VNIs,
// VXLAN FDB entries, and the STP state and flags of bridge ports.
func TestDumpShowsL2State(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, overlay(4242, 4243))
	d := n.DumpState()
	for _, want := range []string{
		"vxlan id 4242", "vxlan id 4243", "dstport 4789",
		"fdb 00:00:00:00:00:00 dev vx0 dst 10.50.2.1",
		"bridge port state forwarding learning true flood true isolated false",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("dump lacks %q:\n%s", want, d)
		}
	}
}
