package catalogue

import (
	"context"
	"fmt"
	"time"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// The cases, one builder each. Every scenario is small (two to five
// nodes) and builds without STP's forwarding delay, so the catalogue
// costs little in the VM.

// twoSwitches is h1 on sw1, h2 on sw2, and a trunk between the switches.
func twoSwitches(name string, downTrunk bool) *scenario.Spec {
	s := scenario.Define(name, "h1 on sw1, h2 on sw2, a trunk between the switches")
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

func trunkDown() Case {
	return Case{Fault: "down inter-switch trunk", Spec: twoSwitches("walk-trunk-down", true),
		From: "h1", To: "10.9.1.2", Node: "sw1", Iface: "trunk", Cause: "sw1: trunk is down"}
}

func healthySwitches() Case {
	return Case{Spec: twoSwitches("walk-healthy-switches", false), From: "h1", To: "10.9.1.2"}
}

// overlay is h1 and h2 joined by VXLAN between vtep-a and vtep-b, over a
// routed underlay, with each VTEP's VNI and UDP port.
func overlay(name string, vniA, vniB, portA, portB int) *scenario.Spec {
	s := scenario.Define(name, "h1 and h2 joined by VXLAN over a routed underlay")
	s.Router("router")
	for _, site := range []struct {
		vtep, host, underlay, remote, addr string
		vni, port                          int
	}{
		{"vtep-a", "h1", "10.50.1.0/24", "10.50.2.1", "192.168.50.1/24", vniA, portA},
		{"vtep-b", "h2", "10.50.2.0/24", "10.50.1.1", "192.168.50.2/24", vniB, portB},
	} {
		v := s.Host(site.vtep).Route("default", "router")
		v.Iface("vx0", scenario.VXLAN{VNI: site.vni, Underlay: "eth0", Remotes: []string{site.remote}, Port: site.port})
		v.Iface("br0", scenario.Bridge{}).Members("vx0", "lan")
		s.Link(site.vtep+":eth0", "router").Subnet(site.underlay)
		s.Host(site.host)
		s.Link(site.host, site.vtep+":lan").Addrs(site.addr, "")
	}
	return s
}

func vniMismatch() Case {
	return Case{Fault: "VXLAN VNI mismatch", Spec: overlay("walk-vni-mismatch", 4242, 4243, 0, 0),
		From: "h1", To: "192.168.50.2", Node: "vtep-a", Iface: "vx0",
		Cause: "VNI mismatch: vtep-a:vx0 sends VNI 4242 to 10.50.2.1, but vtep-b:vx0 has VNI 4243"}
}

func vxlanPort() Case {
	return Case{Fault: "VXLAN UDP port mismatch", Spec: overlay("walk-vxlan-port", 42, 42, 4789, 8472),
		From: "h1", To: "192.168.50.2", Node: "vtep-a", Iface: "vx0",
		Cause: "UDP port mismatch: vtep-a:vx0 sends to port 4789, but vtep-b:vx0 listens on 8472"}
}

func vxlanUnderlay() Case {
	s := overlay("walk-vxlan-underlay", 42, 42, 0, 0)
	s.Step("vtep-a loses its underlay route", scenario.DelRoute("vtep-a", "default"))
	return Case{Fault: "VXLAN underlay without a route", Spec: s, From: "h1", To: "192.168.50.2",
		Node: "vtep-a", Iface: "vx0", Cause: "the underlay to the VTEP 10.50.2.1 breaks: vtep-a has no route to 10.50.2.1"}
}

func healthyOverlay() Case {
	return Case{Spec: overlay("walk-healthy-overlay", 42, 42, 0, 0), From: "h1", To: "192.168.50.2"}
}

// bridged is hosts a and b on ports p1 and p2 of a bridge in node sw.
func bridged(name string, br scenario.Bridge, p1, p2 scenario.BridgePort) *scenario.Spec {
	s := scenario.Define(name, "a and b on two ports of a bridge in sw")
	s.Host("sw").Iface("br0", br).Port("p1", p1).Port("p2", p2)
	s.Host("a")
	s.Host("b")
	s.Link("a", "sw:p1").Addrs("10.9.0.1/24", "")
	s.Link("b", "sw:p2").Addrs("10.9.0.2/24", "")
	return s
}

func wrongPVID() Case {
	s := bridged("walk-wrong-pvid", scenario.Bridge{VLANFiltering: true},
		scenario.BridgePort{PVID: 10}, scenario.BridgePort{PVID: 20})
	return Case{Fault: "wrong PVID on a VLAN-aware bridge port", Spec: s, From: "a", To: "10.9.0.2",
		Node: "sw", Iface: "p2", Cause: "VLAN 10 is not allowed on bridge port p2"}
}

func vlanNotOnTrunk() Case {
	s := scenario.Define("walk-vlan-not-on-trunk", "VLAN 10 allowed on sw1's trunk port, not on sw2's")
	for _, sw := range []struct {
		name  string
		trunk int
	}{{"sw1", 10}, {"sw2", 20}} {
		s.Host(sw.name).Iface("br0", scenario.Bridge{VLANFiltering: true}).
			Port("p", scenario.BridgePort{PVID: 10}).
			Port("trunk", scenario.BridgePort{VLANs: []int{sw.trunk}})
	}
	s.Link("sw1:trunk", "sw2:trunk")
	s.Host("a")
	s.Host("b")
	s.Link("a", "sw1:p").Addrs("10.9.3.1/24", "")
	s.Link("b", "sw2:p").Addrs("10.9.3.2/24", "")
	return Case{Fault: "VLAN not allowed on a trunk", Spec: s, From: "a", To: "10.9.3.2",
		Node: "sw2", Iface: "trunk", Cause: "VLAN 10 is not allowed on bridge port trunk"}
}

func vlanIDMismatch() Case {
	s := scenario.Define("walk-vlan-id-mismatch", "VLAN 10 on one end, 11 on the other")
	s.Host("left").Iface("trunk.10", scenario.VLAN{Parent: "trunk", ID: 10}).Addrs("10.31.0.1/24")
	s.Host("right").Iface("trunk.11", scenario.VLAN{Parent: "trunk", ID: 11}).Addrs("10.31.0.2/24")
	s.Link("left:trunk", "right:trunk").L2()
	return Case{Fault: "VLAN ID mismatch between sub-interfaces", Spec: s, From: "left", To: "10.31.0.2",
		Node: "right", Iface: "trunk.11", Cause: "receives frames tagged VLAN 10, but its VLAN interface trunk.11 is VLAN 11"}
}

// stpState puts port p2 in an STP state other than forwarding, as a
// spanning tree does while a port listens or learns (set by hand, on a
// bridge without STP, so no forwarding delay is waited for).
func stpState(state string, code uint8) Case {
	s := bridged("walk-stp-"+state, scenario.Bridge{}, scenario.BridgePort{}, scenario.BridgePort{})
	s.StepFunc("sw:p2 in STP state "+state, func(ctx context.Context, n *scenario.Network) error {
		return setPortState(n.Node("sw"), "p2", code)
	})
	return Case{Fault: "bridge port in STP state " + state, Spec: s, From: "a", To: "10.9.0.2",
		Node: "sw", Iface: "p2", Cause: "bridge port p2 of br0 is in STP state " + state}
}

// setPortState sets a bridge port's STP state, like bridge link set dev
// PORT state N.
func setPortState(nd *scenario.Node, port string, state uint8) error {
	l, err := nd.Netlink().LinkByName(port)
	if err != nil {
		return fmt.Errorf("port %s of %s: %w", port, nd.Name(), err)
	}
	err = nd.Do(func() error {
		req := nl.NewNetlinkRequest(unix.RTM_SETLINK, unix.NLM_F_ACK)
		msg := nl.NewIfInfomsg(unix.AF_BRIDGE)
		msg.Index = int32(l.Attrs().Index)
		req.AddData(msg)
		pi := nl.NewRtAttr(unix.IFLA_PROTINFO|unix.NLA_F_NESTED, nil)
		pi.AddRtAttr(nl.IFLA_BRPORT_STATE, []byte{state})
		req.AddData(pi)
		_, err := req.Execute(unix.NETLINK_ROUTE, 0)
		return err
	})
	if err != nil {
		return fmt.Errorf("set the STP state of %s:%s to %d: %w", nd.Name(), port, state, err)
	}
	return nil
}

func learningFloodOff() Case {
	s := bridged("walk-learning-flood-off", scenario.Bridge{}, scenario.BridgePort{}, scenario.BridgePort{NoLearning: true, NoFlood: true})
	return Case{Fault: "learning and flooding off", Spec: s, From: "a", To: "10.9.0.2",
		Node: "sw", Iface: "p2", Cause: "has flooding and learning off and no FDB entry"}
}

func isolated() Case {
	s := bridged("walk-port-isolation", scenario.Bridge{}, scenario.BridgePort{Isolated: true}, scenario.BridgePort{Isolated: true})
	return Case{Fault: "port isolation", Spec: s, From: "a", To: "10.9.0.2",
		Node: "sw", Iface: "p2", Cause: "bridge ports p1 and p2 of br0 are both isolated"}
}

func mtuMismatch() Case {
	s := bridged("walk-mtu-mismatch", scenario.Bridge{}, scenario.BridgePort{}, scenario.BridgePort{})
	s.Step("b's MTU is 1400", scenario.SetMTU("b:eth0", 1400))
	return Case{Fault: "MTU mismatch on an L2 path", Spec: s, From: "a", To: "10.9.0.2", Size: 1400,
		Node: "b", Iface: "eth0", Cause: "has MTU 1400: the 1428-byte packet from sw:p2 (MTU 1500) does not fit"}
}

func macvlanPrivate() Case {
	s := scenario.Define("walk-macvlan-private", "macvlans in private mode")
	s.Host("host")
	s.Host("peer")
	s.Link("host:eth0", "peer:eth0").Subnet("10.40.0.0/24")
	s.Host("c1").Iface("mv0", scenario.Macvlan{Parent: "host:eth0", Mode: "private"}).Addrs("10.40.0.11/24")
	s.Host("c2").Iface("mv0", scenario.Macvlan{Parent: "host:eth0", Mode: "private"}).Addrs("10.40.0.12/24")
	return Case{Fault: "macvlan private mode", Spec: s, From: "c1", To: "10.40.0.12",
		Node: "c1", Iface: "mv0", Cause: "share the parent host:eth0 in modes private and private"}
}

func ipvlanOtherLAN() Case {
	return otherLAN("ipvlan", "ipv0", 41, func(parent string) scenario.LinkKind { return scenario.IPVlan{Parent: parent} })
}

func macvlanOtherLAN() Case {
	return otherLAN("macvlan", "mv0", 43, func(parent string) scenario.LinkKind { return scenario.Macvlan{Parent: parent} })
}

// otherLAN is two LANs, 10.<lan>.0.0/24 and 10.<lan+1>.0.0/24, and two
// containers whose interfaces (of the kind upper on the parent given) share
// the first LAN's subnet while their parents sit on different LANs.
func otherLAN(kind, iface string, lan int, upper func(parent string) scenario.LinkKind) Case {
	s := scenario.Define("walk-"+kind+"-other-lan", kind+" on another LAN's NIC")
	s.Host("host")
	s.Host("peer")
	s.Host("host2")
	s.Host("peer2")
	subnet := func(lan int, host string) string { return fmt.Sprintf("10.%d.0.%s", lan, host) }
	s.Link("host:eth0", "peer:eth0").Subnet(subnet(lan, "0/24"))
	s.Link("host2:eth0", "peer2:eth0").Subnet(subnet(lan+1, "0/24"))
	s.Host("c1").Iface(iface, upper("host:eth0")).Addrs(subnet(lan, "11/24"))
	s.Host("c2").Iface(iface, upper("host2:eth0")).Addrs(subnet(lan, "12/24"))
	return Case{Fault: kind + " on another LAN's parent", Spec: s, From: "c1", To: subnet(lan, "12"),
		Node: "c1", Iface: iface, Cause: fmt.Sprintf("belongs to c2, which is not on the segment of c1:%[1]s (c1:%[1]s is on host:eth0, c2:%[1]s is on host2:eth0: their parents are on different LANs)", iface)}
}

func bondAllDown() Case {
	s := scenario.Define("walk-bond-all-down", "a bond with every member down")
	for _, side := range []struct{ node, last string }{{"a", "1"}, {"b", "2"}} {
		n := s.Host(side.node)
		n.Iface("bond0", scenario.Bond{Mode: "active-backup"}).Members("e0", "e1").Addrs("10.70.0." + side.last + "/24")
		if side.node == "a" {
			n.Down("e0", "e1")
		}
	}
	s.Link("a:e0", "b:e0")
	s.Link("a:e1", "b:e1")
	return Case{Fault: "bond with every member down", Spec: s, From: "a", To: "10.70.0.2",
		Node: "a", Iface: "bond0", Cause: "no carrier: every member is down (e0 is down, e1 is down)"}
}

// chain is client — r1 — r2 — server on three subnets; edit changes it
// (r1 and server are passed for rules and routes).
func chain(name string, edit func(s *scenario.Spec, r1, server *scenario.NodeSpec)) *scenario.Spec {
	s := scenario.Define(name, "client — r1 — r2 — server")
	s.Host("client").Route("default", "r1")
	r1 := s.Router("r1").Route("10.0.3.0/24", "r2")
	s.Router("r2").Route("10.0.1.0/24", "r1")
	server := s.Host("server").Route("default", "r2")
	s.Link("client", "r1").Subnet("10.0.1.0/24")
	s.Link("r1", "r2").Subnet("10.0.2.0/24")
	s.Link("r2", "server").Subnet("10.0.3.0/24")
	if edit != nil {
		edit(s, r1, server)
	}
	return s
}

// chainStep is chain with a step that breaks it.
func chainStep(name, step string, a scenario.Action) *scenario.Spec {
	return chain(name, func(s *scenario.Spec, _, _ *scenario.NodeSpec) { s.Step(step, a) })
}

func noRoute() Case {
	return Case{Fault: "no route", Spec: chainStep("walk-no-route", "client loses its default route", scenario.DelRoute("client", "default")),
		From: "client", To: "server", Node: "client", Cause: "client has no route to 10.0.3.2 (table main"}
}

func forwardingOff() Case {
	return Case{Fault: "ip_forward off", Spec: chainStep("walk-forwarding-off", "r2 stops forwarding", scenario.SetSysctl("r2", "net.ipv4.ip_forward", "0")),
		From: "client", To: "server", Node: "r2", Iface: "eth0", Cause: "net.ipv4.ip_forward=0"}
}

func wrongGateway() Case {
	return Case{Fault: "wrong gateway", Spec: chainStep("walk-wrong-gateway", "client's gateway is no one", scenario.ReplaceRoute("client", "default", "10.0.1.9")),
		From: "client", To: "server", Node: "client", Iface: "eth0", Cause: "next hop 10.0.1.9 (dev eth0) is no node's address (wrong gateway?)"}
}

func returnPathMissing() Case {
	return Case{Fault: "return path missing", Spec: chainStep("walk-return-path", "server loses its default route", scenario.DelRoute("server", "default")),
		From: "client", To: "server", Node: "server", Cause: "return path: server has no route to 10.0.1.1"}
}

func linkDownMidPath() Case {
	return Case{Fault: "link down mid-path", Spec: chainStep("walk-link-down", "r2's side of the r1—r2 link goes down", scenario.LinkDown("r2:eth0")),
		From: "client", To: "server", Node: "r1", Iface: "eth1", Cause: "has no carrier (its peer r2:eth0 is down)"}
}

func firewallDrop() Case {
	s := chain("walk-firewall-drop", func(_ *scenario.Spec, r1, _ *scenario.NodeSpec) {
		r1.Firewall(scenario.FirewallRule{Name: "block", Hook: scenario.HookForward, Action: scenario.Drop})
	})
	return Case{Fault: "firewall drop (forward)", Spec: s, From: "client", To: "server",
		Node: "r1", Iface: "eth0", Cause: "(hook forward) has a drop rule"}
}

func firewallReject() Case {
	s := chain("walk-firewall-reject", func(_ *scenario.Spec, _, server *scenario.NodeSpec) {
		server.Firewall(scenario.FirewallRule{Name: "deny", Hook: scenario.HookInput, Action: scenario.Reject})
	})
	return Case{Fault: "firewall reject (input)", Spec: s, From: "client", To: "server",
		Node: "server", Iface: "eth0", Cause: "(hook input) has a reject rule"}
}

func rpFilter() Case {
	s := chain("walk-rp-filter", func(_ *scenario.Spec, r1, _ *scenario.NodeSpec) {
		// r1's route back to the client leaves by eth1: strict
		// reverse-path filtering drops what the client sends.
		r1.Route("10.0.1.1/32", "r2").Sysctl("net.ipv4.conf.all.rp_filter", "1")
	})
	return Case{Fault: "rp_filter drop", Spec: s, From: "client", To: "server",
		Node: "r1", Iface: "eth0", Cause: "reverse-path filter"}
}

// dnat is client — gw — server with gw forwarding 203.0.113.1:8080 to
// to.
func dnat(name, to string) *scenario.Spec {
	s := scenario.Define(name, "gw forwards port 8080 of its outside address to "+to)
	s.Host("client")
	s.Router("gw").NAT(scenario.NATRule{Name: "web-fwd", Action: scenario.DNAT,
		Match: scenario.Match{Proto: "tcp", DPort: "8080", In: "wan"}, To: to})
	s.Host("server").Route("default", "gw")
	s.Link("gw:wan", "client").Addrs("203.0.113.1/24", "203.0.113.2/24")
	s.Link("gw:lan", "server").Addrs("10.0.2.1/24", "10.0.2.2/24")
	return s
}

func dnatWrongTarget() Case {
	return Case{Fault: "wrong DNAT target", Spec: dnat("walk-dnat-target", "10.0.2.9:80"),
		From: "client", To: "203.0.113.1", Node: "gw", Cause: "sent it to 10.0.2.9:80",
		Traffic: assert.PortForwarded("client", "203.0.113.1", 8080, "server", 80, assert.Timeout(300*time.Millisecond))}
}

func dnatWrongPort() Case {
	return Case{Fault: "wrong DNAT port", Spec: dnat("walk-dnat-port", "10.0.2.2:81"),
		From: "client", To: "203.0.113.1", Node: "gw", Cause: "sent it to 10.0.2.2:81",
		Traffic: assert.PortForwarded("client", "203.0.113.1", 8080, "server", 80, assert.Timeout(300*time.Millisecond))}
}

func masqueradeMissing() Case {
	s := scenario.Define("walk-masquerade-missing", "a router towards an outside that has no route back, without masquerade")
	s.Host("a1").Route("default", "gw")
	s.Router("gw")
	s.Host("outside")
	s.Link("a1", "gw:lan").Addrs("10.0.1.2/24", "10.0.1.1/24")
	s.Link("gw:wan", "outside").Addrs("203.0.113.1/24", "203.0.113.2/24")
	return Case{Fault: "masquerade missing", Spec: s, From: "a1", To: "outside",
		Node: "outside", Cause: "return path: outside has no route to 10.0.1.2"}
}

func vrfLeakMissing() Case {
	s := scenario.Define("walk-vrf-leak-missing", "ha in VRF red, the server in VRF blue, no route leaked between them")
	r := s.Router("r")
	r.Iface("red", scenario.VRF{Table: 10}).Members("red0")
	r.Iface("blue", scenario.VRF{Table: 20}).Members("blue0")
	s.Host("ha").Route("default", "10.80.0.1")
	s.Host("server").Route("default", "10.81.0.1")
	s.Link("r:red0", "ha").Addrs("10.80.0.1/24", "10.80.0.2/24")
	s.Link("r:blue0", "server").Addrs("10.81.0.1/24", "10.81.0.2/24")
	return Case{Fault: "VRF route leak missing", Spec: s, From: "ha", To: "10.81.0.2",
		Node: "r", Iface: "red0", Cause: "has no route to 10.81.0.2 (VRF red, table 10"}
}
