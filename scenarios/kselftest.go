package scenarios

import (
	"fmt"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// Kselftests returns the ports of the kernel's forwarding selftests that
// use the layer-2 steps (bridge VLANs, FDB and VXLAN FDB entries).
func Kselftests() []*scenario.Spec {
	return []*scenario.Spec{KselftestVXLANBridge1D(), KselftestBridgeVLANAware()}
}

// KselftestVXLANBridge1D is tools/testing/selftests/net/forwarding/
// vxlan_bridge_1d.sh, simplified: three sites behind a routed underlay,
// each a VTEP bridging its host onto VXLAN VNI 10 (a VLAN-unaware, "1d"
// bridge). The first VTEP floods to the second only: its host reaches the
// second site's host and not the third's, until a step appends the third
// VTEP to its flood list (bridge fdb append 00:00:00:00:00:00 dev vx0
// self dst REMOTE), as the selftest does.
func KselftestVXLANBridge1D() *scenario.Spec { return vxlanBridge1D(true) }

// vxlanBridge1D builds it with or without the flood step (its broken twin).
func vxlanBridge1D(flood bool) *scenario.Spec {
	s := scenario.Define("kselftest-vxlan-bridge-1d",
		"vxlan_bridge_1d.sh simplified: hosts behind VTEP bridges reach each other through VXLAN; the all-zeros FDB entry adds a VTEP to the flood list")
	s.Router("rt")
	underlay := func(i int) string { return fmt.Sprintf("10.5%d.0.1", i) }
	remotes := map[int][]string{1: {underlay(2)}, 2: {underlay(1), underlay(3)}, 3: {underlay(1), underlay(2)}}
	for i := 1; i <= 3; i++ {
		vtep, host := fmt.Sprintf("vtep%d", i), fmt.Sprintf("h%d", i)
		v := s.Host(vtep).Route("default", "rt")
		v.Iface("vx0", scenario.VXLAN{VNI: 10, Underlay: "eth0", Remotes: remotes[i]})
		v.Iface("br0", scenario.Bridge{}).Members("vx0", "lan")
		s.Link(vtep+":eth0", "rt").Subnet(fmt.Sprintf("10.5%d.0.0/24", i))
		s.Host(host)
		s.Link(host, vtep+":lan").Addrs(fmt.Sprintf("192.0.2.%d/28", i), "")
	}
	s.Check("h1 reaches h2 through VXLAN", assert.Reach("h1", "192.0.2.2"))
	s.Check("h2 reaches h3 through VXLAN", assert.Reach("h2", "192.0.2.3"))
	s.Check("vtep1 does not flood to vtep3: h1 does not reach h3", assert.NoReach("h1", "192.0.2.3"))
	if flood {
		s.Step("flood vtep1's unknown and broadcast frames to vtep3 too",
			scenario.VXLANFDBAppend("vtep1:vx0", "00:00:00:00:00:00", underlay(3)))
	}
	// After NoReach the neighbour entry is INCOMPLETE: the next
	// solicitation waits for its 1 s retransmit timer.
	s.Check("h1 reaches h3 through VXLAN", assert.Reach("h1", "192.0.2.3", assert.Timeout(3*time.Second)))
	s.Check("the underlay does not route the overlay", assert.NoReach("rt", "192.0.2.1"))
	return s
}

// KselftestBridgeVLANAware is tools/testing/selftests/net/forwarding/
// bridge_vlan_aware.sh, simplified: two hosts on ports of a VLAN-aware
// bridge in VLAN 10 reach each other; deleting the VLAN from one port
// cuts it off (vlan_deletion) and adding it back as PVID untagged
// rejoins it; an extern_learn entry in VLAN 10 forwards like a learned
// one (extern_learn). Needs bridge VLAN filtering.
func KselftestBridgeVLANAware() *scenario.Spec {
	const mac = "02:00:00:00:10:01"
	s := scenario.Define("kselftest-bridge-vlan-aware",
		"bridge_vlan_aware.sh simplified: VLAN 10 deleted from a port cuts its host off, added back rejoins it; extern_learn entries in a VLAN")
	s.Host("sw").Iface("br0", scenario.Bridge{VLANFiltering: true}).
		Port("p1", scenario.BridgePort{PVID: 10}).
		Port("p2", scenario.BridgePort{PVID: 10})
	for i, h := range []string{"a", "b"} {
		s.Host(h)
		s.Link(h, fmt.Sprintf("sw:p%d", i+1)).Addrs(fmt.Sprintf("192.0.2.%d/28", i+1), "")
	}
	s.Check("a reaches b in VLAN 10", assert.Reach("a", "b"))
	s.Step("delete VLAN 10 from p2", scenario.BridgeVLANDel("sw:p2", 10))
	s.Check("b's port left VLAN 10: a does not reach b", assert.NoReach("a", "b"))
	s.Step("add VLAN 10 back to p2", scenario.BridgeVLANAdd("sw:p2", scenario.BridgeVLAN{VID: 10, PVID: true, Untagged: true}))
	s.Check("a reaches b again", assert.Reach("a", "b", assert.Timeout(3*time.Second))) // NoReach left the entry INCOMPLETE: re-solicited after 1 s
	s.Step("add an extern_learn entry in VLAN 10", scenario.FDBAdd("sw:p2", scenario.FDB{MAC: mac, VLAN: 10, Kind: scenario.FDBExternLearn}))
	s.Check("the extern_learn entry is on p2 in VLAN 10",
		assert.FDBEntry("sw", mac, assert.Via("p2"), assert.VLAN(10), assert.Expect(assert.FDBExternLearn)))
	s.Step("delete the extern_learn entry", scenario.FDBDel("sw:p2", scenario.FDB{MAC: mac, VLAN: 10}))
	s.Check("the extern_learn entry is gone", assert.FDBEntry("sw", mac, assert.Absent()))
	return s
}
