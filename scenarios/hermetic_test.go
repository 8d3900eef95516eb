package scenarios_test

import (
	"os"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
	"github.com/vtest-dev/vtest/scenarios"
)

// missing reports whether this kernel lacks a feature the scenario needs.
func missing(s *scenario.Spec) bool {
	for _, f := range s.Features() {
		if f.Probe() != nil {
			return true
		}
	}
	return false
}

// TestNoLinkLeavesTheScenario proves packets cannot leave a scenario: in
// every namespace of every built-in scenario, each link is loopback, a
// link of a kind vtest creates whose peer or parent lives in the same
// namespace or another of the same scenario;
// none leads to the root namespace, and no route uses anything else.
func TestNoLinkLeavesTheScenario(t *testing.T) {
	hostcheck.RequireRoot(t)
	hostNS, err := os.Open("/proc/self/ns/net") // the test runs in the root namespace
	if err != nil {
		t.Fatal(err)
	}
	defer hostNS.Close()
	for _, s := range scenarios.All() {
		if missing(s) {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			n := scenario.New(t, s)
			for _, nd := range n.Nodes() {
				h := nd.Netlink()
				// The ids this namespace gives the scenario's namespaces.
				inside := map[int]bool{}
				for _, other := range n.Nodes() {
					if id, err := h.GetNetNsIdByFd(other.NamespaceFd()); err == nil && id >= 0 {
						inside[id] = true
					}
				}
				hostID, _ := h.GetNetNsIdByFd(int(hostNS.Fd()))
				links, err := h.LinkList()
				if err != nil {
					t.Fatal(err)
				}
				allowed := map[int]bool{}
				for _, l := range links {
					a := l.Attrs()
					switch l.Type() {
					case "device": // lo
						if a.Name != "lo" {
							t.Errorf("%s: unexpected device %s", nd.Name(), a.Name)
						}
					case "bridge", "vlan", "veth", "macvlan", "ipvlan", "vxlan", "bond", "vrf", "wireguard", "dummy":
						// A veth's peer, a macvlan's or ipvlan's parent:
						// in the same namespace or one of the scenario's.
						if hostID >= 0 && a.NetNsID == hostID {
							t.Errorf("%s: %s leads to the root namespace", nd.Name(), a.Name)
						}
						// NetNsID is -1 for a peer in the same namespace.
						if a.NetNsID >= 0 && !inside[a.NetNsID] {
							t.Errorf("%s: %s leads to namespace id %d, outside the scenario", nd.Name(), a.Name, a.NetNsID)
						}
					default:
						t.Errorf("%s: link %s of type %s", nd.Name(), a.Name, l.Type())
					}
					allowed[a.Index] = true
				}
				// Every table; a multipath route's links are its nexthops'.
				routes, _ := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
				for _, r := range routes {
					switch {
					case r.Type == unix.RTN_BLACKHOLE || r.Type == unix.RTN_UNREACHABLE || r.Type == unix.RTN_PROHIBIT:
						// No link: the packet goes nowhere.
					case len(r.MultiPath) > 0:
						for _, nh := range r.MultiPath {
							if !allowed[nh.LinkIndex] {
								t.Errorf("%s: route %v nexthop via unknown link %d", nd.Name(), r.Dst, nh.LinkIndex)
							}
						}
					case !allowed[r.LinkIndex]:
						t.Errorf("%s: route %v (table %d) via unknown link %d", nd.Name(), r.Dst, r.Table, r.LinkIndex)
					}
				}
			}
		})
	}
}
