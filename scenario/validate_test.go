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
	if len(tests) < 25 {
		t.Fatalf("want at least 25 malformed definitions, have %d", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Define("t", "")
			tt.define(s)
			before := nsFds(t)
			err := s.Validate()
			if err == nil {
				t.Fatal("Validate accepted a bad definition")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			// Build must refuse it the same way before creating anything.
			n, berr := Build(context.Background(), s)
			if n != nil || berr == nil || berr.Error() != err.Error() {
				t.Errorf("Build: got %v, %v; want the validation error", n, berr)
			}
			if after := nsFds(t); after != before {
				t.Errorf("a namespace descriptor was opened: %d before, %d after", before, after)
			}
		})
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
