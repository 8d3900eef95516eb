// Package scenarios is vtest's built-in scenario library: the classic
// namespace setups, each checking what its setup is about. Importing the
// package registers them; vtest run ./scenarios runs them.
package scenarios

import (
	"context"
	"fmt"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

func init() {
	for _, s := range All() {
		scenario.Register(s)
	}
}

// All returns fresh definitions of every built-in scenario.
func All() []*scenario.Spec {
	return append([]*scenario.Spec{
		SameNamespaceVeth(),
		TwoNamespaces(),
		HostNamespace(),
		Bridge(),
		PreinstalledNeighbours(),
		NAT(),
		Routed(),
		NetemDelay(),
		ECMP(),
		PolicyRouting(),
		Firewall(),
		PortForward(),
		ImpairedLink(),
		LossyLink(),
		VLANTrunk(),
		BridgeVLAN(),
		Macvlan(),
		IPVlan(),
		VXLANOverlay(),
		BondFailover(),
		VRF(),
		WireGuard(),
		LinkFlap(),
		KselftestTraceroute6(),
		PMTUException(),
		KselftestBridgeLearning(),
		Throughput(),
	}, Kselftests()...)
}

// NetemDelay delays a link by 10 ms each way with netem and checks that the
// round trip takes at least 20 ms. It needs sch_netem and is skipped, with
// the probe's reason, on kernels without it.
func NetemDelay() *scenario.Spec {
	s := scenario.Define("netem-delay", "a link delayed 10 ms each way by netem: round trips take at least 20 ms")
	s.Host("near")
	s.Host("far")
	s.Link("near", "far").Delay(10 * time.Millisecond)
	s.Check("round trip at least 20 ms", assert.LatencyWithin("near", "far",
		[]assert.Bound{assert.AtLeast(assert.Min, 20*time.Millisecond), assert.Below(assert.P50, 200*time.Millisecond)},
		assert.Count(5), assert.Interval(5*time.Millisecond)))
	return s
}

// SameNamespaceVeth puts both ends of one veth pair in the same namespace.
// By default an ARP request from one end for the other end's address is not
// answered: the sender's address is local, so source validation drops it.
// accept_local=1 alone is not enough under strict rp_filter; with
// accept_local=1 and loose rp_filter the request is answered.
func SameNamespaceVeth() *scenario.Spec {
	s := scenario.Define("same-namespace-veth",
		"both ends of one veth pair in one namespace: ARP unanswered by default, answered with accept_local=1 and rp_filter relaxed")
	s.Host("solo").
		Sysctl("net.ipv4.conf.all.rp_filter", "1").
		Sysctl("net.ipv4.conf.veth1.rp_filter", "1")
	s.Link("solo:veth0", "solo:veth1").Addrs("10.198.0.1/24", "10.198.0.2/24")
	via := assert.Via("veth0")
	s.Check("default: ARP for veth1 is not answered", assert.ARPUnanswered("solo", "10.198.0.2", via))
	s.Step("accept_local=1 on veth1", scenario.SetSysctl("solo", "net.ipv4.conf.veth1.accept_local", "1"))
	s.Check("accept_local=1 with strict rp_filter: still not answered", assert.ARPUnanswered("solo", "10.198.0.2", via))
	s.Step("loose rp_filter", scenario.SetSysctl("solo", "net.ipv4.conf.all.rp_filter", "2"))
	s.Step("loose rp_filter on veth1", scenario.SetSysctl("solo", "net.ipv4.conf.veth1.rp_filter", "2"))
	s.Check("accept_local=1 and rp_filter=2: answered with veth1's MAC", assert.ARPAnswered("solo", "10.198.0.2", via))
	return s
}

// TwoNamespaces joins two namespaces with one veth pair.
func TwoNamespaces() *scenario.Spec {
	s := scenario.Define("two-namespaces", "two namespaces joined by one veth pair: ping both ways")
	s.Host("left")
	s.Host("right")
	s.Link("left", "right").Subnet("10.0.0.0/24")
	s.Check("left reaches right", assert.Reach("left", "right"))
	s.Check("right reaches left", assert.Reach("right", "left"))
	s.Check("latency left→right below 5 ms at p90", assert.LatencyWithin("left", "right",
		[]assert.Bound{assert.Below(assert.P90, 5*time.Millisecond)}))
	return s
}

// HostNamespace has a third namespace stand in for "the host": it reaches
// one namespace of a pair through a veth pair of its own, and not the other,
// to which it has no route.
func HostNamespace() *scenario.Spec {
	s := scenario.Define("host-namespace",
		"a namespace standing in for the host reaches a namespace through its own veth pair")
	s.Host("host")
	s.Host("red")
	s.Host("blue")
	s.Link("red", "blue").Subnet("10.1.0.0/24")
	s.Link("host:veth-red", "red:veth-host").Subnet("10.2.0.0/24")
	s.Check("host reaches red", assert.Reach("host", "red"))
	s.Check("red reaches host", assert.Reach("red", "host"))
	s.Check("red reaches blue", assert.Reach("red", "blue"))
	s.Check("host does not reach blue (no route)", assert.NoReach("host", "10.1.0.2"))
	return s
}

// Bridge puts two namespaces on a Linux bridge that holds an address.
func Bridge() *scenario.Spec {
	s := scenario.Define("bridge",
		"two namespaces on a bridge holding 172.16.16.1/24: they reach each other and the bridge")
	s.Switch("br0").Addr("172.16.16.1/24")
	s.Host("ns1")
	s.Host("ns2")
	s.Link("ns1", "br0")
	s.Link("ns2", "br0")
	s.Check("ns1 reaches ns2", assert.Reach("ns1", "ns2"))
	s.Check("ns2 reaches ns1", assert.Reach("ns2", "ns1"))
	s.Check("ns1 reaches the bridge address", assert.Reach("ns1", "172.16.16.1"))
	s.Check("bridge reaches ns2", assert.Reach("br0", "ns2"))
	s.Check("ns1 resolves ns2 by ARP across the bridge", assert.ARPAnswered("ns1", "ns2"))
	return s
}

// PreinstalledNeighbours is two switches of 12 hosts with a router between,
// whose neighbour entries vtest installs, permanent, instead of ARP
// resolving them (Spec.PreinstallNeighbours: how scenarios of thousands of
// hosts fit a host's default neighbour table). Hosts reach each other on a
// switch and across the router; the entries they used, and one of a host
// no check sent from, are the permanent, pre-installed ones with the right
// MACs: ARP never ran.
func PreinstalledNeighbours() *scenario.Spec { return preinstalledNeighbours(true) }

// preinstalledNeighbours is PreinstalledNeighbours, or with pre=false the
// same network resolving its neighbours by ARP, where it must fail.
func preinstalledNeighbours(pre bool) *scenario.Spec {
	s := scenario.Define("preinstalled-neighbours",
		"two switches of 12 hosts and a router between, neighbours pre-installed: hosts reach each other without ARP")
	if pre {
		s.PreinstallNeighbours()
	}
	s.Router("r")
	for _, sw := range []string{"a", "b"} {
		s.Switch(sw).Subnet(map[string]string{"a": "10.30.1.0/24", "b": "10.30.2.0/24"}[sw])
		s.Link("r:"+sw, sw)
		for i := 1; i <= 12; i++ {
			h := fmt.Sprintf("%s%d", sw, i)
			s.Host(h).Route("default", "r")
			s.Link(h, sw)
		}
	}
	s.Check("a1 reaches a12", assert.Reach("a1", "a12"))
	s.Check("a1 reaches b12 across the router", assert.Reach("a1", "b12"))
	s.Check("a12's entry for a1 is permanent", assert.NeighbourEntry("a12", "a1", assert.Expect("permanent"), assert.MAC("a1:eth0")))
	s.Check("b12's entry for the router is permanent", assert.NeighbourEntry("b12", "10.30.2.1", assert.Expect("permanent"), assert.MAC("r:b")))
	s.Check("r's entry for b12 is permanent", assert.NeighbourEntry("r", "b12", assert.Expect("permanent"), assert.MAC("b12:eth0")))
	s.Check("a6's entry for a7 is permanent, neither sent anything", assert.NeighbourEntry("a6", "a7", assert.Expect("permanent"), assert.MAC("a7:eth0")))
	return s
}

// NAT puts two hosts behind a router that masquerades towards an outside
// namespace (TEST-NET-3, 203.0.113.0/24). Only the router forwards; the
// outside has no route back to the inside, so replies prove translation.
func NAT() *scenario.Spec {
	s := scenario.Define("nat",
		"two hosts behind a masquerading router; the outside sees the router's address as source")
	s.Switch("lan").Subnet("10.0.1.0/24")
	s.Host("a1").Route("default", "gw")
	s.Host("a2").Route("default", "gw")
	s.Router("gw").Masquerade("wan")
	s.Host("outside")
	s.Link("gw:lan", "lan").Addrs("10.0.1.1/24", "")
	s.Link("a1", "lan")
	s.Link("a2", "lan")
	s.Link("gw:wan", "outside").Addrs("203.0.113.1/24", "203.0.113.2/24")
	s.Check("a1 reaches outside", assert.Reach("a1", "outside"))
	s.Check("a2 reaches outside", assert.Reach("a2", "outside"))
	s.Check("outside sees a1 as the router", assert.Masqueraded("a1", "outside", "gw"))
	s.Check("outside sees a2 as the router", assert.Masqueraded("a2", "outside", "gw"))
	s.Check("outside does not reach a1", assert.NoReach("outside", "a1"))
	s.Check("only the router forwards", forwardingOnlyOn("gw", "a1", "a2", "outside"))
	return s
}

// Routed is a client and a server on two subnets joined by a router.
func Routed() *scenario.Spec {
	s := scenario.Define("routed", "client — router — server on two subnets")
	s.Host("client").Route("default", "router")
	s.Router("router")
	s.Host("server").Route("default", "router")
	s.Link("client", "router").Subnet("10.0.1.0/24")
	s.Link("router", "server").Subnet("10.0.2.0/24")
	s.Check("client reaches server", assert.Reach("client", "server"))
	s.Check("server reaches client", assert.Reach("server", "client"))
	s.Check("client→server goes through router", assert.Forwarded("client", "server", "router"))
	return s
}

// forwardingOnlyOn checks ip_forward is 1 on the router and 0 on the hosts.
func forwardingOnlyOn(router string, hosts ...string) scenario.CheckFunc {
	return func(ctx context.Context, n *scenario.Network) scenario.Result {
		var ev string
		var err error
		for _, name := range append([]string{router}, hosts...) {
			v, rerr := n.Node(name).Sysctl("net.ipv4.ip_forward")
			if rerr != nil {
				return scenario.Verdict(ev, rerr)
			}
			ev += fmt.Sprintf("%s: ip_forward=%s; ", name, v)
			want := "0"
			if name == router {
				want = "1"
			}
			if v != want && err == nil {
				err = fmt.Errorf("%s has net.ipv4.ip_forward=%s, want %s", name, v, want)
			}
		}
		return scenario.Verdict(ev, err)
	}
}
