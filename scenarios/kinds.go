package scenarios

import (
	"fmt"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// Macvlan puts two "containers" on a host's NIC with macvlan interfaces in
// bridge mode: each has a MAC address of its own, they reach each other
// and the host's neighbour, and (as macvlan does) not the host itself
// through the parent.
func Macvlan() *scenario.Spec {
	s := scenario.Define("macvlan", "two macvlan interfaces (bridge mode) on a host's NIC reach each other and the LAN, not the host")
	s.Host("host")
	s.Host("peer")
	s.Link("host:eth0", "peer:eth0").Subnet("10.40.0.0/24")
	s.Host("c1").Iface("mv0", scenario.Macvlan{Parent: "host:eth0", Mode: "bridge"}).Addrs("10.40.0.11/24")
	s.Host("c2").Iface("mv0", scenario.Macvlan{Parent: "host:eth0", Mode: "bridge"}).Addrs("10.40.0.12/24")
	s.Check("c1 reaches c2 (bridge mode)", assert.Reach("c1", "10.40.0.12"))
	s.Check("c1 reaches the LAN", assert.Reach("c1", "peer"))
	s.Check("peer resolves c1 to c1's own MAC", assert.ARPAnswered("peer", "10.40.0.11", assert.MAC("c1:mv0")))
	s.Check("host does not reach c1 through its parent", assert.NoReach("host", "10.40.0.11"))
	return s
}

// IPVlan puts two "containers" on a host's NIC with ipvlan interfaces in
// l2 mode: they reach each other and the LAN, sharing the NIC's MAC.
func IPVlan() *scenario.Spec {
	s := scenario.Define("ipvlan", "two ipvlan interfaces (l2) on a host's NIC reach each other and the LAN with the NIC's MAC")
	s.Host("host")
	s.Host("peer")
	s.Link("host:eth0", "peer:eth0").Subnet("10.41.0.0/24")
	s.Host("c1").Iface("ipv0", scenario.IPVlan{Parent: "host:eth0", Mode: "l2"}).Addrs("10.41.0.11/24")
	s.Host("c2").Iface("ipv0", scenario.IPVlan{Parent: "host:eth0", Mode: "l2"}).Addrs("10.41.0.12/24")
	s.Check("c1 reaches c2", assert.Reach("c1", "10.41.0.12"))
	s.Check("c1 reaches the LAN", assert.Reach("c1", "peer"))
	s.Check("peer resolves c1 to the NIC's MAC", assert.ARPAnswered("peer", "10.41.0.11", assert.MAC("host:eth0")))
	return s
}

// VXLANOverlay joins two sites over a routed underlay with a VXLAN (VNI
// 42): at each site a VTEP bridges its overlay host onto the tunnel. The
// overlay hosts share 192.168.50.0/24 while the underlay is two routed
// subnets; the router sees only UDP to port 4789.
func VXLANOverlay() *scenario.Spec {
	s := scenario.Define("vxlan-overlay", "two sites over a routed underlay: overlay hosts reach each other through VXLAN VNI 42 (UDP 4789)")
	s.Router("router")
	for _, site := range []struct{ vtep, host, underlay, remote, addr string }{
		{"vtep-a", "h1", "10.50.1.0/24", "10.50.2.1", "192.168.50.1/24"},
		{"vtep-b", "h2", "10.50.2.0/24", "10.50.1.1", "192.168.50.2/24"},
	} {
		v := s.Host(site.vtep).Route("default", "router")
		v.Iface("vx0", scenario.VXLAN{VNI: 42, Underlay: "eth0", Remotes: []string{site.remote}})
		v.Iface("br0", scenario.Bridge{}).Members("vx0", "lan")
		s.Link(site.vtep+":eth0", "router").Subnet(site.underlay)
		s.Host(site.host)
		s.Link(site.host, site.vtep+":lan").Addrs(site.addr, "")
	}
	s.Check("h1 reaches h2 over the overlay", onWire("router", "eth0", "carrying VXLAN vni 42", vxlanFrame(42, "192.168.50.1", "192.168.50.2"), assert.Reach("h1", "192.168.50.2")))
	s.Check("h2 reaches h1 over the overlay", assert.Reach("h2", "192.168.50.1"))
	s.Check("h1 resolves h2 by ARP through the tunnel", assert.ARPAnswered("h1", "192.168.50.2"))
	s.Check("the underlay does not route the overlay", assert.NoReach("router", "192.168.50.2"))
	return s
}

// VLANTrunk carries VLANs 10 and 20 tagged over one trunk, and VLAN 10
// again inside 802.1ad service VLAN 100 (QinQ): sub-interfaces on each end
// reach their counterpart in the same VLAN, and frames on the trunk carry
// the tags. Replaces the older "vlan" scenario, which built its
// VLAN inside a check.
func VLANTrunk() *scenario.Spec {
	s := scenario.Define("vlan-trunk", "802.1Q VLANs 10 and 20 tagged over one trunk: sub-interfaces reach their counterpart")
	for _, side := range []struct{ node, last string }{{"left", "1"}, {"right", "2"}} {
		n := s.Host(side.node)
		n.Iface("trunk.10", scenario.VLAN{Parent: "trunk", ID: 10}).Addrs("10.31.0." + side.last + "/24")
		n.Iface("trunk.20", scenario.VLAN{Parent: "trunk", ID: 20}).Addrs("10.32.0." + side.last + "/24")
		n.Iface("svc100", scenario.VLAN{Parent: "trunk", ID: 100, QinQ: true})
		n.Iface("svc100.10", scenario.VLAN{Parent: "svc100", ID: 10}).Addrs("10.33.0." + side.last + "/24")
	}
	s.Link("left:trunk", "right:trunk").L2()
	s.Check("left reaches right over VLAN 10, tagged", onWire("right", "trunk", "tagged 10", taggedFrame(10, "10.31.0.1", "10.31.0.2"), assert.Reach("left", "10.31.0.2")))
	s.Check("left reaches right over VLAN 20, tagged", onWire("right", "trunk", "tagged 20", taggedFrame(20, "10.32.0.1", "10.32.0.2"), assert.Reach("left", "10.32.0.2")))
	s.Check("right reaches left over VLAN 10", assert.Reach("right", "10.31.0.1"))
	s.Check("left reaches right over VLAN 10 in 802.1ad service VLAN 100", onWire("right", "trunk", "with service tag 100", taggedFrame(100, "10.33.0.1", "10.33.0.2"), assert.Reach("left", "10.33.0.2")))
	return s
}

// BridgeVLAN is a VLAN-aware bridge inside a host: ports p1 and p2 are
// untagged in VLAN 10, p3 in VLAN 20. The hosts in VLAN 10 reach each
// other; the host in VLAN 20, on the same subnet, reaches neither.
func BridgeVLAN() *scenario.Spec {
	s := scenario.Define("bridge-vlan", "a VLAN-aware bridge: hosts in VLAN 10 reach each other and not the host in VLAN 20")
	s.Host("sw").Iface("br0", scenario.Bridge{VLANFiltering: true}).
		Port("p1", scenario.BridgePort{PVID: 10}).
		Port("p2", scenario.BridgePort{PVID: 10}).
		Port("p3", scenario.BridgePort{PVID: 20})
	for i, h := range []string{"a", "b", "c"} {
		s.Host(h)
		s.Link(h, fmt.Sprintf("sw:p%d", i+1)).Addrs(fmt.Sprintf("10.60.0.%d/24", i+1), "")
	}
	s.Check("a reaches b in VLAN 10", assert.Reach("a", "b"))
	s.Check("a does not reach c in VLAN 20", assert.NoReach("a", "c"))
	s.Check("c does not reach b", assert.NoReach("c", "b"))
	return s
}

// BondFailover joins two nodes with two active-backup bonds of two links
// each. On the second bond one member is administratively down: the bond
// still carries traffic over the other. The first bond also carries VLAN
// 100.
func BondFailover() *scenario.Spec {
	s := scenario.Define("bond-failover", "active-backup bonds of two links: a bond with one member down still reaches its peer")
	for _, side := range []struct{ node, last string }{{"a", "1"}, {"b", "2"}} {
		n := s.Host(side.node)
		n.Iface("bond0", scenario.Bond{Mode: "active-backup"}).Members("e0", "e1").Addrs("10.70.0." + side.last + "/24")
		n.Iface("bond1", scenario.Bond{Mode: "active-backup"}).Members("f0", "f1").Addrs("10.71.0." + side.last + "/24")
		n.Iface("bond0.100", scenario.VLAN{Parent: "bond0", ID: 100}).Addrs("10.72.0." + side.last + "/24")
		if side.node == "a" {
			n.Down("f0")
		}
	}
	for _, m := range []string{"e0", "e1", "f0", "f1"} {
		s.Link("a:"+m, "b:"+m)
	}
	s.Check("a reaches b over bond0 (both members up)", assert.Reach("a", "10.70.0.2"))
	s.Check("bond1's member f0 is down", assert.LinkIs("a:f0", assert.Expect("down")))
	s.Check("bond1 is up on its other member", assert.LinkIs("a:bond1"))
	s.Check("a reaches b over bond1 with f0 down", assert.Reach("a", "10.71.0.2"))
	s.Check("a reaches b over VLAN 100 on bond0", assert.Reach("a", "10.72.0.2"))
	return s
}

// VRF puts a router's two customer interfaces into VRFs red and blue
// with the same addresses (10.80.0.1/24 on both). Each customer reaches
// the router; red's customer reaches red's server behind the router and
// red's router ID (a dummy interface in red), blue's reaches neither: the
// tables are isolated.
func VRF() *scenario.Spec {
	s := scenario.Define("vrf", "two VRFs with overlapping addresses on one router stay isolated")
	r := s.Router("r")
	r.Iface("red", scenario.VRF{Table: 10}).Members("red0", "red1", "rid")
	r.Iface("rid", scenario.Dummy{}).Addrs("192.0.2.1/32") // red's router ID
	r.Iface("blue", scenario.VRF{Table: 20}).Members("blue0")
	s.Host("ha").Route("default", "10.80.0.1")
	s.Host("hb").Route("default", "10.80.0.1")
	s.Host("server").Route("default", "10.81.0.1")
	s.Link("r:red0", "ha").Addrs("10.80.0.1/24", "10.80.0.2/24")
	s.Link("r:blue0", "hb").Addrs("10.80.0.1/24", "10.80.0.3/24")
	s.Link("r:red1", "server").Addrs("10.81.0.1/24", "10.81.0.2/24")
	s.Check("ha reaches its gateway in red", assert.Reach("ha", "10.80.0.1"))
	s.Check("hb reaches its gateway in blue", assert.Reach("hb", "10.80.0.1"))
	s.Check("ha reaches the server through red", assert.Reach("ha", "server"))
	s.Check("ha reaches red's router ID (a dummy in red)", assert.Reach("ha", "192.0.2.1"))
	s.Check("hb does not reach red's router ID", assert.NoReach("hb", "192.0.2.1"))
	s.Check("hb does not reach the server (blue has no route)", assert.NoReach("hb", "server"))
	return s
}

// WireGuard tunnels between two nodes with keys vtest generates: the
// tunnel addresses reach each other, and the underlay carries only
// WireGuard data messages (UDP 51820).
func WireGuard() *scenario.Spec {
	s := scenario.Define("wireguard", "a WireGuard tunnel between two nodes: tunnel addresses reach each other over encrypted UDP")
	s.Host("a").Iface("wg0", scenario.WireGuard{Peer: "b:wg0"}).Addrs("10.91.0.1/24")
	s.Host("b").Iface("wg0", scenario.WireGuard{Peer: "a:wg0"}).Addrs("10.91.0.2/24")
	s.Link("a", "b").Subnet("10.90.0.0/24")
	s.Check("a reaches b through the tunnel", onWire("b", "eth0", "a WireGuard data message", wireguardFrame(51820), assert.Reach("a", "10.91.0.2")))
	s.Check("b reaches a through the tunnel", assert.Reach("b", "10.91.0.1"))
	return s
}
