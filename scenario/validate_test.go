package scenario

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name   string
		define func(s *Spec)
		want   []string // substrings of the error: object, problem and fix
	}{
		{"bad CIDR", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Subnet("10.0.0.0/33")
		}, []string{`scenario "t"`, "link a:eth0—b:eth0", `"10.0.0.0/33" is not a valid CIDR`, "fix:"}},
		{"garbage address", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Addrs("10.0.0.x/24", "10.0.0.2/24")
		}, []string{"not a valid CIDR", "fix: write it like"}},
		{"subnet with host bits", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Subnet("10.0.0.1/24")
		}, []string{"host bits set", "10.0.0.0/24"}},
		{"interface name over 15 bytes", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a:averyveryverylongname", "b")
		}, []string{`interface name "averyveryverylongname" on node "a" is 21 bytes`, "at most 15 bytes"}},
		{"interface name with a slash", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a:eth/0", "b")
		}, []string{"characters Linux or vtest do not accept"}},
		{"interface named lo", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a:lo", "b")
		}, []string{"loopback"}},
		{"duplicate node", func(s *Spec) {
			s.Host("a")
			s.Router("a")
		}, []string{`node "a"`, "defined twice", "unique name"}},
		{"empty node name", func(s *Spec) { s.Host("") }, []string{"empty name"}},
		{"node name with colon", func(s *Spec) { s.Host("a:b") }, []string{"':'"}},
		{"duplicate interface", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Host("c")
			s.Link("a:x", "b")
			s.Link("a:x", "c")
		}, []string{`interface "x" is defined twice on node "a"`}},
		{"link to undefined node", func(s *Spec) {
			s.Host("a")
			s.Link("a", "ghost")
		}, []string{`node "ghost" is not defined`, "define it with Host"}},
		{"address outside the link subnet", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Subnet("10.0.0.0/24").Addrs("10.0.1.1/24", "")
		}, []string{"10.0.1.1/24", "outside the subnet 10.0.0.0/24"}},
		{"address outside the switch subnet", func(s *Spec) {
			s.Switch("sw").Subnet("172.16.0.0/24")
			s.Host("a")
			s.Link("a", "sw").Addrs("172.16.1.5/24", "")
		}, []string{"outside the subnet 172.16.0.0/24"}},
		{"same address twice", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Host("c")
			s.Link("a", "b").Addrs("10.0.0.1/24", "10.0.0.2/24")
			s.Link("a", "c").Addrs("10.0.1.1/24", "10.0.0.2/24")
		}, []string{"10.0.0.2 is already used by b:eth0"}},
		{"route with unreachable gateway", func(s *Spec) {
			s.Host("a").Route("default", "192.168.9.1")
			s.Host("b")
			s.Link("a", "b").Subnet("10.0.0.0/24")
		}, []string{`route default via 192.168.9.1`, "not on any subnet", "10.0.0.0/24"}},
		{"route via a node not adjacent", func(s *Spec) {
			s.Host("a").Route("default", "c")
			s.Host("b")
			s.Host("c")
			s.Link("a", "b")
			s.Link("b", "c")
		}, []string{`node "c" shares no subnet with "a"`}},
		{"route via unknown gateway", func(s *Spec) {
			s.Host("a").Route("default", "nowhere")
		}, []string{"neither an IP address nor a node"}},
		{"route with bad destination", func(s *Spec) {
			s.Host("a").Route("10.0.0/8", "b")
			s.Host("b")
			s.Link("a", "b")
		}, []string{"not a valid CIDR"}},
		{"route via itself", func(s *Spec) {
			s.Host("a").Route("default", "a")
		}, []string{"gateway is the node itself"}},
		{"NAT router without outside interface", func(s *Spec) {
			s.Router("r").Masquerade("")
		}, []string{"NAT router without an outside interface", `Masquerade("wan")`}},
		{"NAT outside interface missing", func(s *Spec) {
			s.Router("r").Masquerade("wan")
			s.Host("a")
			s.Link("r:lan", "a")
		}, []string{`NAT outside interface "wan" does not exist`, "lan"}},
		{"NAT on a host", func(s *Spec) {
			s.Host("h").Masquerade("eth0")
			s.Host("o")
			s.Link("h", "o")
		}, []string{"masquerades but is a host", "Router"}},
		{"sysctl outside net", func(s *Spec) {
			s.Host("a").Sysctl("kernel.panic", "1")
		}, []string{`sysctl "kernel.panic" is not a network sysctl`}},
		{"sysctl path traversal", func(s *Spec) {
			s.Host("a").Sysctl("net..ipv4", "1")
		}, []string{"not a network sysctl"}},
		{"sysctl empty value", func(s *Spec) {
			s.Host("a").Sysctl("net.ipv4.ip_forward", "")
		}, []string{"empty or multi-line value"}},
		{"overlapping subnets", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Host("c")
			s.Link("a", "b").Subnet("10.0.0.0/16")
			s.Link("a", "c").Subnet("10.0.1.0/24")
		}, []string{"overlaps 10.0.0.0/16"}},
		{"switch port with address", func(s *Spec) {
			s.Switch("sw")
			s.Host("a")
			s.Link("a", "sw").Addrs("", "10.0.0.1/24")
		}, []string{"switch ports are layer 2"}},
		{"switch linked to itself", func(s *Spec) {
			s.Switch("sw")
			s.Link("sw", "sw")
		}, []string{"links a switch to itself"}},
		{"address on a host node", func(s *Spec) {
			s.Host("a").Addr("10.0.0.1/24")
		}, []string{"apply to switches only"}},
		{"negative MTU", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").MTU(-1)
		}, []string{"MTU -1 is out of range"}},
		{"too many queues", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Queues(1000)
		}, []string{"1000 queues is out of range", "1..256"}},
		{"network address on a host", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Addrs("10.0.0.0/24", "10.0.0.2/24")
		}, []string{"network address"}},
		{"prefix length differs from subnet", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Subnet("10.0.0.0/24").Addrs("10.0.0.1/16", "")
		}, []string{"prefix length /16"}},
		{"subnet too small", func(s *Spec) {
			s.Switch("sw").Subnet("10.9.0.0/30")
			for _, h := range []string{"a", "b", "c"} {
				s.Host(h)
				s.Link(h, "sw")
			}
		}, []string{"no room"}},
		{"scenario without name", func(s *Spec) { s.Name = "" }, []string{"has no name"}},
		{"sysctl that does not exist", func(s *Spec) {
			s.Host("a").Sysctl("net.ipv4.no_such_knob", "1")
		}, []string{"net.ipv4.no_such_knob does not exist on this kernel"}},
		{"loop between switches", func(s *Spec) {
			s.Switch("s1")
			s.Switch("s2")
			s.Switch("s3")
			s.Link("s1", "s2")
			s.Link("s2", "s3")
			s.Link("s3", "s1")
		}, []string{"closes a loop between bridges without STP", "remove one link"}},
		{"double link between two switches", func(s *Spec) {
			s.Switch("s1")
			s.Switch("s2")
			s.Link("s1", "s2")
			s.Link("s1", "s2")
		}, []string{"closes a loop"}},
		{"delay out of range", func(s *Spec) {
			s.Host("a")
			s.Host("b")
			s.Link("a", "b").Delay(-time.Second)
		}, []string{"delay -1s is out of range"}},
		{"bad range", func(s *Spec) { s.Range4 = "10.0.0.0/99" }, []string{"Range4"}},
	}
	tests = append(tests, kindRejects...)
	if len(tests) < 25 {
		t.Fatalf("want at least 25 malformed definitions, have %d", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Define("t", "")
			tt.define(s)
			refused(t, s, tt.want...)
		})
	}
}

// refused checks that Validate refuses s with an error mentioning every
// want, and that Build refuses it the same way before creating anything.
func refused(t *testing.T, s *Spec, want ...string) {
	t.Helper()
	before := nsFds(t)
	err := s.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad definition")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
	n, berr := Build(context.Background(), s)
	if n != nil || berr == nil || berr.Error() != err.Error() {
		t.Errorf("Build: got %v, %v; want the validation error", n, berr)
	}
	if after := nsFds(t); after != before {
		t.Errorf("a namespace descriptor was opened: %d before, %d after", before, after)
	}
}

// nsFds counts this process's open network-namespace descriptors.
func nsFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "net:[") {
			n++
		}
	}
	return n
}

func TestNilSpec(t *testing.T) {
	var s *Spec
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "scenario.Define") {
		t.Errorf("nil spec: %v", err)
	}
	if _, err := Build(context.Background(), nil); err == nil {
		t.Error("Build(nil) succeeded")
	}
}

func TestPerInterfaceSysctlAccepted(t *testing.T) {
	s := Define("ok", "")
	s.Host("a").Sysctl("net.ipv4.conf.veth9.accept_local", "1").Sysctl("net.ipv6.conf.eth0.forwarding", "1")
	s.Host("b")
	s.Link("a:veth9", "b")
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
}

func TestValidateAcceptsAndResolves(t *testing.T) {
	s := Define("ok", "")
	s.Switch("lan").Subnet("10.0.1.0/24")
	s.Host("a1").Route("default", "gw")
	s.Router("gw").Masquerade("wan")
	s.Host("out")
	s.Link("gw:lan", "lan").Addrs("10.0.1.1/24", "")
	s.Link("a1", "lan")
	s.Link("gw:wan", "out")
	s.Host("solo")
	s.Link("solo:v0", "solo:v1").Addrs("10.9.0.1/24", "10.9.0.2/24")
	p, err := s.plan()
	if err != nil {
		t.Fatal(err)
	}
	addr := func(node, iface string) string {
		for _, n := range p.nodes {
			if n.spec.name == node {
				if i := n.iface(iface); i != nil && len(i.addrs) > 0 {
					return i.addrs[0].String()
				}
			}
		}
		return ""
	}
	// a1 takes the first free address after the router's explicit .1.
	if got := addr("a1", "eth0"); got != "10.0.1.2/24" {
		t.Errorf("a1 eth0 = %q, want 10.0.1.2/24", got)
	}
	// The wan link gets the first automatic /24 of the default range.
	if got := addr("gw", "wan"); got != "10.200.0.1/24" {
		t.Errorf("gw wan = %q, want 10.200.0.1/24", got)
	}
	if got := addr("out", "eth0"); got != "10.200.0.2/24" {
		t.Errorf("out eth0 = %q", got)
	}
	// default via "gw" resolves to the router's address on the shared LAN.
	var a1 *planNode
	for _, n := range p.nodes {
		if n.spec.name == "a1" {
			a1 = n
		}
	}
	if len(a1.routes) != 1 || a1.routes[0].via.String() != "10.0.1.1" || a1.routes[0].dst.String() != "0.0.0.0/0" {
		t.Errorf("a1 routes = %+v", a1.routes)
	}
}

func TestAutomaticIPv6(t *testing.T) {
	s := Define("v6", "")
	s.IPv6 = true
	s.Host("a")
	s.Host("b")
	s.Link("a", "b")
	p, err := s.plan()
	if err != nil {
		t.Fatal(err)
	}
	got := p.nodes[1].ifaces[0].addrs
	if len(got) != 2 || got[0].String() != "10.200.0.2/24" || got[1].String() != "fd00:7e57::2/64" {
		t.Errorf("b addrs = %v", got)
	}
}

// two returns a define function linking hosts a and b (a:eth0—b:eth0) and
// then applying more.
func two(more func(s *Spec)) func(s *Spec) {
	return func(s *Spec) {
		s.Host("a")
		s.Host("b")
		s.Link("a:eth0", "b:eth0")
		more(s)
	}
}

// nodeOf returns the node called name.
func nodeOf(s *Spec, name string) *NodeSpec {
	for _, n := range s.Nodes() {
		if n.Name() == name {
			return n
		}
	}
	panic(name)
}

// kindRejects are malformed definitions of link kinds.
var kindRejects = []struct {
	name   string
	define func(s *Spec)
	want   []string
}{
	{"VLAN ID out of range", two(func(s *Spec) {
		nodeOf(s, "a").Iface("eth0.4095", VLAN{Parent: "eth0", ID: 4095})
	}), []string{`node "a" interface "eth0.4095" (vlan)`, "VLAN ID 4095 is out of range", "1..4094"}},
	{"VLAN parent missing", two(func(s *Spec) {
		nodeOf(s, "a").Iface("v10", VLAN{Parent: "eth9", ID: 10})
	}), []string{`parent "eth9" is not an interface of node "a"`, "eth0"}},
	{"VLAN twice on a parent", two(func(s *Spec) {
		nodeOf(s, "a").Iface("v10", VLAN{Parent: "eth0", ID: 10})
		nodeOf(s, "a").Iface("w10", VLAN{Parent: "eth0", ID: 10})
	}), []string{"VLAN 10 on \"eth0\" is also"}},
	{"macvlan bad mode", two(func(s *Spec) {
		s.Host("c").Iface("mv0", Macvlan{Parent: "a:eth0", Mode: "bridged"})
	}), []string{`macvlan mode "bridged"`, "bridge, private, vepa, passthru"}},
	{"macvlan parent on an unknown node", two(func(s *Spec) {
		s.Host("c").Iface("mv0", Macvlan{Parent: "ghost:eth0"})
	}), []string{`names node "ghost"`}},
	{"ipvlan bad mode", two(func(s *Spec) {
		s.Host("c").Iface("ipv0", IPVlan{Parent: "a:eth0", Mode: "l4"})
	}), []string{`ipvlan mode "l4" is not l2 or l3`}},
	{"VNI zero", two(func(s *Spec) {
		nodeOf(s, "a").Iface("vx0", VXLAN{Remotes: []string{"10.200.0.2"}})
	}), []string{"VNI 0 is out of range", "1..16777215"}},
	{"VNI too large", two(func(s *Spec) {
		nodeOf(s, "a").Iface("vx0", VXLAN{VNI: 1 << 24, Remotes: []string{"10.200.0.2"}})
	}), []string{"VNI 16777216 is out of range"}},
	{"VXLAN without remotes or group", two(func(s *Spec) {
		nodeOf(s, "a").Iface("vx0", VXLAN{VNI: 42})
	}), []string{"has neither remotes nor a group"}},
	{"VXLAN without underlay", func(s *Spec) {
		s.Host("a").Iface("vx0", VXLAN{VNI: 42, Remotes: []string{"10.0.0.2"}})
	}, []string{"no underlay address", "routed underlay"}},
	{"VXLAN group not multicast", two(func(s *Spec) {
		nodeOf(s, "a").Iface("vx0", VXLAN{VNI: 42, Underlay: "eth0", Group: "10.0.0.9"})
	}), []string{"group 10.0.0.9 is not a multicast address"}},
	{"VXLAN remote is garbage", two(func(s *Spec) {
		nodeOf(s, "a").Iface("vx0", VXLAN{VNI: 42, Remotes: []string{"10.0.0.x"}})
	}), []string{`remote "10.0.0.x" is not an IP address`}},
	{"bond of links to different peers", func(s *Spec) {
		s.Host("a").Iface("bond0", Bond{}).Members("e0", "e1")
		s.Host("b")
		s.Host("c")
		s.Link("a:e0", "b")
		s.Link("a:e1", "c")
	}, []string{"members lead to different nodes (b and c)", "same partner"}},
	{"bond bad mode", two(func(s *Spec) {
		nodeOf(s, "a").Iface("bond0", Bond{Mode: "round-robin"}).Members("eth0")
	}), []string{`bond mode "round-robin" is not supported`}},
	{"bond without members", two(func(s *Spec) {
		nodeOf(s, "a").Iface("bond0", Bond{})
	}), []string{"has no members"}},
	{"bond member with an address", func(s *Spec) {
		s.Host("a").Iface("bond0", Bond{}).Members("e0")
		s.Host("b")
		s.Link("a:e0", "b").Addrs("10.0.0.1/24", "10.0.0.2/24")
	}, []string{`interface "e0": is a port of bond "bond0" and has an address`}},
	{"VRF on the main table", two(func(s *Spec) {
		nodeOf(s, "a").Iface("red", VRF{Table: 254}).Members("eth0")
	}), []string{"table 254 is not a usable table"}},
	{"two VRFs on one table", two(func(s *Spec) {
		nodeOf(s, "a").Iface("red", VRF{Table: 10})
		nodeOf(s, "a").Iface("blue", VRF{Table: 10})
	}), []string{"table 10 is also the table of VRF"}},
	{"WireGuard peer not node:iface", two(func(s *Spec) {
		nodeOf(s, "a").Iface("wg0", WireGuard{Peer: "b"})
	}), []string{`peer "b" is not node:interface`}},
	{"WireGuard peer not WireGuard", two(func(s *Spec) {
		nodeOf(s, "a").Iface("wg0", WireGuard{Peer: "b:eth0"})
	}), []string{`peer "b:eth0" is not a WireGuard interface`}},
	{"WireGuard peer unreachable", func(s *Spec) {
		s.Host("a").Iface("wg0", WireGuard{Peer: "b:wg0"})
		s.Host("b").Iface("wg0", WireGuard{Peer: "a:wg0"})
	}, []string{`shares no segment with the peer's node "b"`, "Endpoint"}},
	{"bridge port VLAN without filtering", two(func(s *Spec) {
		nodeOf(s, "a").Iface("br0", Bridge{}).Port("eth0", BridgePort{PVID: 10})
	}), []string{`port "eth0" has VLANs but the bridge does not filter VLANs`, "VLANFiltering"}},
	{"bridge port VLAN out of range", two(func(s *Spec) {
		nodeOf(s, "a").Iface("br0", Bridge{VLANFiltering: true}).Port("eth0", BridgePort{VLANs: []int{0}})
	}), []string{`port "eth0": VLAN 0 is out of range`}},
	{"bridge default PVID without filtering", two(func(s *Spec) {
		nodeOf(s, "a").Iface("br0", Bridge{DefaultPVID: 5})
	}), []string{"default PVID 5"}},
	{"bridge forward delay without STP", two(func(s *Spec) {
		nodeOf(s, "a").Iface("br0", Bridge{ForwardDelay: time.Second})
	}), []string{"forward delay 1s is invalid or set without STP"}},
	{"bridge FDB entry on a non-port", two(func(s *Spec) {
		nodeOf(s, "a").Iface("br0", Bridge{FDB: []FDBEntry{{MAC: "02:00:00:00:00:01", Port: "eth0"}}})
	}), []string{`"eth0" is not a port of the bridge`}},
	{"bridge FDB entry bad MAC", two(func(s *Spec) {
		nodeOf(s, "a").Iface("br0", Bridge{FDB: []FDBEntry{{MAC: "zz", Port: "eth0"}}}).Members("eth0")
	}), []string{`FDB entry "zz" is not a MAC address`}},
	{"bridge port with an address", func(s *Spec) {
		s.Host("a").Iface("br0", Bridge{}).Members("p1")
		s.Host("b")
		s.Link("a:p1", "b").Addrs("10.0.0.1/24", "")
	}, []string{`is a port of bridge "br0" and has an address`, "move the address to br0"}},
	{"Port on a bond", two(func(s *Spec) {
		nodeOf(s, "a").Iface("bond0", Bond{}).Port("eth0", BridgePort{})
	}), []string{"has bridge ports but is a bond"}},
	{"member enslaved twice", two(func(s *Spec) {
		nodeOf(s, "a").Iface("br0", Bridge{}).Members("eth0")
		nodeOf(s, "a").Iface("br1", Bridge{}).Members("eth0")
	}), []string{`member "eth0" is already enslaved to "br0"`}},
	{"member missing", two(func(s *Spec) {
		nodeOf(s, "a").Iface("br0", Bridge{}).Members("eth7")
	}), []string{`member "eth7" is not an interface of node "a"`}},
	{"members of a VLAN", two(func(s *Spec) {
		nodeOf(s, "a").Iface("v10", VLAN{Parent: "eth0", ID: 10}).Members("eth0")
	}), []string{"has members but is a vlan"}},
	{"interfaces on a switch", func(s *Spec) {
		s.Switch("sw").Iface("v10", Dummy{})
	}, []string{"a switch holds exactly one bridge", "Host or Router"}},
	{"interface without kind", func(s *Spec) {
		s.Host("a").Iface("x0", nil)
	}, []string{"has no kind"}},
	{"kind by pointer", func(s *Spec) {
		s.Host("a").Iface("d0", &Dummy{})
	}, []string{"is a pointer", "by value"}},
	{"interface name clash with a link end", two(func(s *Spec) {
		nodeOf(s, "a").Iface("eth0", Dummy{})
	}), []string{`interface "eth0" is defined twice on node "a"`}},
	{"loop between bridges without STP", func(s *Spec) {
		for _, n := range []string{"s1", "s2", "s3"} {
			s.Host(n).Iface("br0", Bridge{}).Members("l", "r")
		}
		s.Link("s1:r", "s2:l")
		s.Link("s2:r", "s3:l")
		s.Link("s3:r", "s1:l")
	}, []string{"closes a loop between bridges without STP", "Bridge{STP: true}"}},
	{"Down of an unknown interface", func(s *Spec) {
		s.Host("a").Down("eth3")
	}, []string{`Down names "eth3"`}},
	{"L2 link with addresses", func(s *Spec) {
		s.Host("a")
		s.Host("b")
		s.Link("a", "b").L2().Subnet("10.0.0.0/24")
	}, []string{"is layer 2 only but has addresses"}},
	{"macvlan on a bridge port", func(s *Spec) {
		s.Host("a").Iface("br0", Bridge{}).Members("p1")
		s.Host("b")
		s.Link("a:p1", "b").L2()
		s.Host("c").Iface("mv0", Macvlan{Parent: "a:p1"})
	}, []string{`parent a:p1 is a port of "br0"`}},
	{"virtual interface address is garbage", func(s *Spec) {
		s.Host("a").Iface("d0", Dummy{}).Addrs("10.1.1.1/40")
	}, []string{`node "a" interface "d0" address`, "not a valid CIDR"}},
}

// TestKindsAccepted: good definitions of every kind validate, addresses
// stay where they were put, links to bridge ports get none, and the
// features the kinds need are listed.
func TestKindsAccepted(t *testing.T) {
	s := Define("ok", "")
	r := s.Router("r")
	r.Iface("red", VRF{Table: 10}).Members("eth0")
	r.Iface("br0", Bridge{VLANFiltering: true, STP: true}).Port("p1", BridgePort{PVID: 10}).Members("p2").Addrs("10.9.9.1/24")
	r.Iface("bond0", Bond{Mode: "802.3ad", Miimon: 50 * time.Millisecond}).Members("b0", "b1").Addrs("10.8.8.1/24")
	r.Iface("bond0.7", VLAN{Parent: "bond0", ID: 7, QinQ: true})
	r.Iface("lo1", Dummy{}).Addrs("192.0.2.1/32")
	r.Iface("vx0", VXLAN{VNI: 7, Underlay: "eth0", Remotes: []string{"10.200.0.2"}})
	s.Host("h").Iface("wg0", WireGuard{Peer: "r:wg1"})
	r.Iface("wg1", WireGuard{Peer: "h:wg0"})
	s.Host("c").Iface("mv0", Macvlan{Parent: "h:eth0", Mode: "vepa"})
	s.Host("m")
	s.Link("r", "h")
	s.Link("r:p1", "m")
	s.Link("r:p2", "c")
	s.Link("r:b0", "m:b0")
	s.Link("r:b1", "m:b1")
	p, err := s.plan()
	if err != nil {
		t.Fatal(err)
	}
	for _, pn := range p.nodes {
		for _, i := range pn.ifaces {
			switch {
			case i.l2 && len(i.addrs) > 0:
				t.Errorf("%s:%s is a port but has %v", pn.spec.name, i.name, i.addrs)
			case pn.spec.name == "m" && i.name == "eth0" && len(i.addrs) > 0:
				t.Errorf("m:eth0, beyond a bridge port, got automatic addresses %v", i.addrs)
			}
		}
	}
	got := map[Feature]bool{}
	for _, f := range s.Features() {
		got[f] = true
	}
	for _, f := range []Feature{FeatureVRF, FeatureBridgeVLAN, FeatureBond, FeatureVLAN, FeatureDummy, FeatureVXLAN, FeatureWireGuard, FeatureMacvlan, FeatureVeth} {
		if !got[f] {
			t.Errorf("Features() lacks %s: %v", f, s.Features())
		}
	}
}
