package scenario

import (
	"strings"
	"testing"
)

// TestOneMTURule: a link, a declared interface and a SetMTU step refuse
// the same MTUs (validMTU) with the same words; a link and an interface
// may leave theirs at 0 (the kernel's default), a step may not.
func TestOneMTURule(t *testing.T) {
	for _, mtu := range []int{-1, 1, 67, 65536} {
		for _, where := range []string{"link", "interface", "step"} {
			s := Define("mtu", "")
			s.Host("a")
			s.Host("b")
			l := s.Link("a", "b")
			d := s.Host("c").Iface("d0", Dummy{})
			switch where {
			case "link":
				l.MTU(mtu)
			case "interface":
				d.MTU(mtu)
			case "step":
				s.Step("set", SetMTU("a:eth0", mtu))
			}
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), "is out of range") || !strings.Contains(err.Error(), "68..65535") {
				t.Errorf("%s MTU %d: %v", where, mtu, err)
			}
		}
	}
	for _, mtu := range []int{68, 1500, 9000, 65535} {
		s := Define("mtu", "")
		s.Host("a")
		s.Host("b")
		s.Link("a", "b").MTU(mtu)
		s.Host("c").Iface("d0", Dummy{}).MTU(mtu)
		s.Step("set", SetMTU("a:eth0", mtu))
		if err := s.Validate(); err != nil {
			t.Errorf("MTU %d: %v", mtu, err)
		}
	}
	s := Define("mtu", "")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b")
	s.Step("set", SetMTU("a:eth0", 0))
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "MTU 0 is out of range") {
		t.Errorf("SetMTU 0: %v", err)
	}
}

// TestLayoutInterfaceMTU: an interface's MTU reaches the layout, a veth
// end's from its link, a declared interface's from its own setting.
func TestLayoutInterfaceMTU(t *testing.T) {
	s := Define("mtu", "")
	s.Host("a").Iface("eth0.10", VLAN{Parent: "eth0", ID: 10}).MTU(1400)
	s.Host("b")
	s.Link("a", "b").MTU(1500)
	l, err := s.Layout()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, n := range l.Nodes {
		for _, i := range n.Interfaces {
			got[n.Name+":"+i.Name] = i.MTU
		}
	}
	if got["a:eth0.10"] != 1400 || got["a:eth0"] != 1500 || got["b:eth0"] != 1500 {
		t.Errorf("MTUs in the layout: %v", got)
	}
}
