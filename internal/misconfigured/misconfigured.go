// Package misconfigured holds scenarios of every link kind with one thing
// set wrong (a VLAN ID, a VNI, a bond with every member down…), each with
// the check that must fail because of it. They show that the checks of the
// built-in kind scenarios can fail: on the host for the kinds it has, and
// in the VM (make kernel-check) for the others.
package misconfigured

import (
	"fmt"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// Case is a misconfigured scenario and the check its mistake must fail.
type Case struct {
	Spec  *scenario.Spec
	Fails string
}

// Cases returns fresh definitions of every case.
func Cases() []Case {
	return []Case{
		wrongVLAN(), wrongVNI(), macvlanPrivate(), ipvlanOtherLAN(), bondAllDown(), vrfLeak(),
		wireguardWrongPeer(), bridgeWrongPVID(), bridgeIsolated(), bridgeNoFlood(), dummyDown(), qinqWrongOuter(),
	}
}

// wrongVLAN: the right side uses VLAN 11 where the left uses 10.
func wrongVLAN() Case {
	s := scenario.Define("misconfigured-vlan", "VLAN 10 on one end, 11 on the other")
	s.Host("left").Iface("trunk.10", scenario.VLAN{Parent: "trunk", ID: 10}).Addrs("10.31.0.1/24")
	s.Host("right").Iface("trunk.11", scenario.VLAN{Parent: "trunk", ID: 11}).Addrs("10.31.0.2/24")
	s.Link("left:trunk", "right:trunk").L2()
	s.Check("left reaches right over VLAN 10", assert.Reach("left", "10.31.0.2"))
	return Case{s, "left reaches right over VLAN 10"}
}

// wrongVNI: the two VTEPs use VNIs 42 and 43.
func wrongVNI() Case {
	s := scenario.Define("misconfigured-vxlan", "VTEPs with different VNIs")
	s.Router("router")
	for _, site := range []struct {
		vtep, host, underlay, remote, addr string
		vni                                int
	}{
		{"vtep-a", "h1", "10.50.1.0/24", "10.50.2.1", "192.168.50.1/24", 42},
		{"vtep-b", "h2", "10.50.2.0/24", "10.50.1.1", "192.168.50.2/24", 43},
	} {
		v := s.Host(site.vtep).Route("default", "router")
		v.Iface("vx0", scenario.VXLAN{VNI: site.vni, Underlay: "eth0", Remotes: []string{site.remote}})
		v.Iface("br0", scenario.Bridge{}).Members("vx0", "lan")
		s.Link(site.vtep+":eth0", "router").Subnet(site.underlay)
		s.Host(site.host)
		s.Link(site.host, site.vtep+":lan").Addrs(site.addr, "")
	}
	s.Check("the underlay works", assert.Reach("vtep-a", "10.50.2.1"))
	s.Check("h1 reaches h2 over the overlay", assert.Reach("h1", "192.168.50.2"))
	return Case{s, "h1 reaches h2 over the overlay"}
}

// macvlanPrivate: private mode forbids macvlans of one parent to talk.
func macvlanPrivate() Case {
	s := scenario.Define("misconfigured-macvlan", "macvlans in private mode")
	s.Host("host")
	s.Host("peer")
	s.Link("host:eth0", "peer:eth0").Subnet("10.40.0.0/24")
	s.Host("c1").Iface("mv0", scenario.Macvlan{Parent: "host:eth0", Mode: "private"}).Addrs("10.40.0.11/24")
	s.Host("c2").Iface("mv0", scenario.Macvlan{Parent: "host:eth0", Mode: "private"}).Addrs("10.40.0.12/24")
	s.Check("c1 reaches the LAN", assert.Reach("c1", "peer"))
	s.Check("c1 reaches c2", assert.Reach("c1", "10.40.0.12"))
	return Case{s, "c1 reaches c2"}
}

// ipvlanOtherLAN: c2's ipvlan sits on another host's NIC, on another LAN.
func ipvlanOtherLAN() Case {
	s := scenario.Define("misconfigured-ipvlan", "ipvlans on NICs of two separate LANs")
	s.Host("host")
	s.Host("peer")
	s.Host("host2")
	s.Host("peer2")
	s.Link("host:eth0", "peer:eth0").Subnet("10.41.0.0/24")
	s.Link("host2:eth0", "peer2:eth0").Subnet("10.42.0.0/24")
	s.Host("c1").Iface("ipv0", scenario.IPVlan{Parent: "host:eth0"}).Addrs("10.41.0.11/24")
	s.Host("c2").Iface("ipv0", scenario.IPVlan{Parent: "host2:eth0"}).Addrs("10.41.0.12/24")
	s.Check("c1 reaches the LAN", assert.Reach("c1", "peer"))
	s.Check("c1 reaches c2", assert.Reach("c1", "10.41.0.12"))
	return Case{s, "c1 reaches c2"}
}

// bondAllDown: every member of a's bond is administratively down.
func bondAllDown() Case {
	s := scenario.Define("misconfigured-bond", "a bond with every member down")
	for _, side := range []struct{ node, last string }{{"a", "1"}, {"b", "2"}} {
		n := s.Host(side.node)
		n.Iface("bond0", scenario.Bond{Mode: "active-backup"}).Members("e0", "e1").Addrs("10.70.0." + side.last + "/24")
		if side.node == "a" {
			n.Down("e0", "e1")
		}
	}
	s.Link("a:e0", "b:e0")
	s.Link("a:e1", "b:e1")
	s.Check("a reaches b over bond0", assert.Reach("a", "10.70.0.2"))
	return Case{s, "a reaches b over bond0"}
}

// vrfLeak: blue's customer interface is enslaved to red.
func vrfLeak() Case {
	s := scenario.Define("misconfigured-vrf", "blue's interface enslaved to red")
	r := s.Router("r")
	r.Iface("red", scenario.VRF{Table: 10}).Members("red0", "red1", "blue0")
	r.Iface("blue", scenario.VRF{Table: 20})
	s.Host("ha").Route("default", "10.80.0.1")
	s.Host("hb").Route("default", "10.82.0.1")
	s.Host("server").Route("default", "10.81.0.1")
	s.Link("r:red0", "ha").Addrs("10.80.0.1/24", "10.80.0.2/24")
	s.Link("r:blue0", "hb").Addrs("10.82.0.1/24", "10.82.0.3/24")
	s.Link("r:red1", "server").Addrs("10.81.0.1/24", "10.81.0.2/24")
	s.Check("ha reaches the server through red", assert.Reach("ha", "server"))
	s.Check("hb does not reach the server", assert.NoReach("hb", "server"))
	return Case{s, "hb does not reach the server"}
}

// wireguardWrongPeer: a's peer is c's interface, not b's.
func wireguardWrongPeer() Case {
	s := scenario.Define("misconfigured-wireguard", "a WireGuard interface whose peer is the wrong node")
	s.Host("a").Iface("wg0", scenario.WireGuard{Peer: "c:wg0"}).Addrs("10.91.0.1/24")
	s.Host("b").Iface("wg0", scenario.WireGuard{Peer: "a:wg0"}).Addrs("10.91.0.2/24")
	s.Host("c").Iface("wg0", scenario.WireGuard{Peer: "a:wg0"}).Addrs("10.91.0.3/24")
	s.Link("a", "b").Subnet("10.90.0.0/24")
	s.Link("a", "c").Subnet("10.90.1.0/24")
	s.Check("the underlay works", assert.Reach("a", "10.90.0.2"))
	s.Check("a reaches b through the tunnel", assert.Reach("a", "10.91.0.2"))
	return Case{s, "a reaches b through the tunnel"}
}

// bridgeWrongPVID: c's port is in VLAN 10 too.
func bridgeWrongPVID() Case {
	s := scenario.Define("misconfigured-bridge-vlan", "the host meant for VLAN 20 on a VLAN 10 port")
	s.Host("sw").Iface("br0", scenario.Bridge{VLANFiltering: true}).
		Port("p1", scenario.BridgePort{PVID: 10}).
		Port("p2", scenario.BridgePort{PVID: 10}).
		Port("p3", scenario.BridgePort{PVID: 10})
	hostsOnPorts(s, "10.60.0")
	s.Check("a reaches b in VLAN 10", assert.Reach("a", "b"))
	s.Check("a does not reach c in VLAN 20", assert.NoReach("a", "c"))
	return Case{s, "a does not reach c in VLAN 20"}
}

// bridgeIsolated: both ports isolated, so they cannot talk.
func bridgeIsolated() Case {
	s := scenario.Define("misconfigured-bridge-isolated", "two isolated ports of a bridge")
	s.Host("sw").Iface("br0", scenario.Bridge{}).
		Port("p1", scenario.BridgePort{Isolated: true}).
		Port("p2", scenario.BridgePort{Isolated: true}).
		Port("p3", scenario.BridgePort{})
	hostsOnPorts(s, "10.61.0")
	s.Check("a reaches c (not isolated)", assert.Reach("a", "c"))
	s.Check("a reaches b", assert.Reach("a", "b"))
	return Case{s, "a reaches b"}
}

// bridgeNoFlood: learning and unknown-unicast flooding off on every port,
// so a unicast frame to a MAC the bridge never learned goes nowhere.
func bridgeNoFlood() Case {
	s := scenario.Define("misconfigured-bridge-flood", "learning and flooding off on every bridge port")
	off := scenario.BridgePort{NoLearning: true, NoFlood: true}
	s.Host("sw").Iface("br0", scenario.Bridge{}).Port("p1", off).Port("p2", off)
	s.Host("a")
	s.Host("b")
	s.Link("a", "sw:p1").Addrs("10.62.0.1/24", "")
	s.Link("b", "sw:p2").Addrs("10.62.0.2/24", "")
	s.Check("a reaches b", assert.Reach("a", "b"))
	return Case{s, "a reaches b"}
}

// dummyDown: the router ID's dummy interface is in blue, not in red
// with the host's interface. (Leaving the dummy down would not do: an
// address added to a down interface keeps its local route.)
func dummyDown() Case {
	s := scenario.Define("misconfigured-dummy", "a router ID on a dummy interface in the wrong VRF")
	r := s.Router("r")
	r.Iface("red", scenario.VRF{Table: 10}).Members("eth0")
	r.Iface("blue", scenario.VRF{Table: 20}).Members("rid")
	r.Iface("rid", scenario.Dummy{}).Addrs("192.0.2.1/32")
	s.Host("h").Route("default", "r")
	s.Link("h", "r").Subnet("10.80.0.0/24")
	s.Check("h reaches the router", assert.Reach("h", "r"))
	s.Check("h reaches the router ID", assert.Reach("h", "192.0.2.1"))
	return Case{s, "h reaches the router ID"}
}

// qinqWrongOuter: the service VLAN is 802.1Q on one end, 802.1ad on the
// other.
func qinqWrongOuter() Case {
	s := scenario.Define("misconfigured-qinq", "service VLAN 100 as 802.1ad on one end, 802.1Q on the other")
	for _, side := range []struct {
		node, last string
		qinq       bool
	}{{"left", "1", true}, {"right", "2", false}} {
		n := s.Host(side.node)
		n.Iface("svc100", scenario.VLAN{Parent: "trunk", ID: 100, QinQ: side.qinq})
		n.Iface("svc100.10", scenario.VLAN{Parent: "svc100", ID: 10}).Addrs("10.33.0." + side.last + "/24")
	}
	s.Link("left:trunk", "right:trunk").L2()
	s.Check("left reaches right in QinQ", assert.Reach("left", "10.33.0.2"))
	return Case{s, "left reaches right in QinQ"}
}

// hostsOnPorts links hosts a, b and c to ports p1, p2 and p3 of switch
// sw, with addresses prefix.1/24, .2 and .3: the wiring the bridge cases
// share, so each differs only in its port settings.
func hostsOnPorts(s *scenario.Spec, prefix string) {
	for i, h := range []string{"a", "b", "c"} {
		s.Host(h)
		s.Link(h, fmt.Sprintf("sw:p%d", i+1)).Addrs(fmt.Sprintf("%s.%d/24", prefix, i+1), "")
	}
}
