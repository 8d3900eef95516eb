package scenario_test

import (
	"fmt"

	"github.com/vtest-dev/vtest/scenario"
)

// A VLAN-aware bridge inside a host: two hosts in VLAN 10, one in VLAN 20,
// and a tagged trunk carrying both to a router with a sub-interface per
// VLAN.
func ExampleNodeSpec_Iface() {
	s := scenario.Define("vlans", "a VLAN-aware bridge and a router on a stick")
	s.Host("sw").Iface("br0", scenario.Bridge{VLANFiltering: true}).
		Port("p1", scenario.BridgePort{PVID: 10}).
		Port("p2", scenario.BridgePort{PVID: 10}).
		Port("p3", scenario.BridgePort{PVID: 20}).
		Port("up", scenario.BridgePort{VLANs: []int{10, 20}})
	r := s.Router("r")
	r.Iface("trunk.10", scenario.VLAN{Parent: "trunk", ID: 10}).Addrs("10.0.10.1/24")
	r.Iface("trunk.20", scenario.VLAN{Parent: "trunk", ID: 20}).Addrs("10.0.20.1/24")
	s.Link("r:trunk", "sw:up")
	for i, h := range []string{"a", "b", "c"} {
		s.Host(h).Route("default", []string{"10.0.10.1", "10.0.10.1", "10.0.20.1"}[i])
		s.Link(h, fmt.Sprintf("sw:p%d", i+1)).Addrs([]string{"10.0.10.2/24", "10.0.10.3/24", "10.0.20.2/24"}[i], "")
	}
	fmt.Println(s.Validate(), s.Features())
	// Output: <nil> [veth bridge-vlan vlan]
}
