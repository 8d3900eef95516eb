package scenarios_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
	"github.com/vtest-dev/vtest/scenarios"
)

// TestBuiltinScenarios runs every built-in scenario and checks not only
// that it passed but that its checks saw what the setup is about.
func TestBuiltinScenarios(t *testing.T) {
	hostcheck.RequireRoot(t)
	before := hostcheck.Take(t)
	want := map[string]map[string][]string{
		"same-namespace-veth": {
			"default: ARP for veth1 is not answered":                    {"no reply"},
			"accept_local=1 on veth1":                                   {"set net.ipv4.conf.veth1.accept_local=1"},
			"accept_local=1 with strict rp_filter: still not answered":  {"no reply"},
			"accept_local=1 and rp_filter=2: answered with veth1's MAC": {"is-at"},
		},
		"two-namespaces": {
			"left reaches right":                   {"1 sent, 1 received", "ttl 64"},
			"right reaches left":                   {"1 sent, 1 received"},
			"latency left→right below 5 ms at p90": {"p90", "n=20"},
		},
		"host-namespace": {
			"host reaches red":                    {"1 received"},
			"host does not reach blue (no route)": {"no route"},
		},
		"bridge": {
			"ns1 reaches the bridge address":            {"ping 172.16.16.1"},
			"ns1 resolves ns2 by ARP across the bridge": {"is-at"},
		},
		"nat": {
			"outside sees a1 as the router": {"outside saw source 203.0.113.1", "echo back to a1: true", "reply 203.0.113.2:", "→203.0.113.1:"},
			"outside sees a2 as the router": {"outside saw source 203.0.113.1"},
			"only the router forwards":      {"gw: ip_forward=1", "a1: ip_forward=0"},
		},
		"routed": {
			"client reaches server":             {"ttl 63"},
			"client→server goes through router": {"(router) time exceeded", "(server) echo reply", "destination reached: true"},
		},
	}
	want["preinstalled-neighbours"] = map[string][]string{
		"a1 reaches b12 across the router":                      {"1 received", "ttl 63", "neighbours pre-installed (ARP/NDP not exercised)"},
		"a6's entry for a7 is permanent, neither sent anything": {"PERMANENT; want PERMANENT"},
	}
	want["netem-delay"] = map[string][]string{"round trip at least 20 ms": {"min"}}
	want["kselftest-vxlan-bridge-1d"] = map[string][]string{
		"flood vtep1's unknown and broadcast frames to vtep3 too": {"the kernel lists 00:00:00:00:00:00 dst 10.52.0.1, 10.53.0.1"},
		"h1 reaches h3 through VXLAN":                             {"1 received"},
	}
	want["kselftest-bridge-vlan-aware"] = map[string][]string{
		"add VLAN 10 back to p2":                     {"vid 10 pvid untagged"},
		"the extern_learn entry is on p2 in VLAN 10": {"extern_learn"},
	}
	want["ecmp"] = map[string][]string{"flows use both paths": {"UDP flows", "the check's own datagrams sent per interface: r1:a", ", r1:b"}}
	want["policy-routing"] = map[string][]string{
		"from 10.1.0.2: leaves through r1": {"(10.1.0.2:", "server saw source 192.0.2.1", "echo back to host: true"},
		"from 10.2.0.2: leaves through r2": {"(10.2.0.2:", "server saw source 192.0.2.2", "echo back to host: true"},
	}
	want["firewall"] = map[string][]string{
		"8080 is allowed":          {"allowed (want allowed)", "server accepted it", `rule "allow-8080" on fw counted +1 packets`},
		"8081 is refused":          {"refused (want refused)", "connection refused", `rule "refuse-8081" on fw counted +1 packets`},
		"8082 is dropped silently": {"filtered (want filtered)", `rule "drop-8082-8099" on fw counted +1 packets`},
		"ping is not filtered":     {"1 received"},
	}
	want["port-forward"] = map[string][]string{
		"IPv4: 8080 reaches the server, which sees the client": {"→ 203.0.113.1:8080", "server accepted it from 203.0.113.2:", `rule "web" on gw counted +1`},
		"IPv6: 8080 reaches the server, which sees the client": {"→ [2001:db8:1::1]:8080", "server accepted it from [2001:db8:1::2]:", `rule "web6" on gw counted +1`},
	}
	want["impaired-link"] = map[string][]string{"a → b at most 8 Mbit/s": {"Mbit/s", "want 4.0..8.4 Mbit/s"}, "b → a not limited": {"want ≥ 24.0 Mbit/s"}}
	want["lossy-link"] = map[string][]string{"some but not most probes are lost": {"loss"}}
	want["link-flap"] = map[string][]string{
		"router resolved the server":             {"router neighbour 10.40.2.2 dev eth1 lladdr"},
		"client does not reach server":           {"rejected", "(net unreachable) from 10.40.1.2"},
		"router's neighbour entry is gone":       {"no entry"},
		"client reaches server again within 3 s": {"passed after"},
		"router resolved the server again":       {"lladdr"},
		"server link down":                       {"set router:eth1 down"},
	}
	want["kselftest-traceroute6"] = map[string][]string{
		"hop 2 is r2's address on N2, where the probe came in": {"hop 2 answered from 2000:102::2"},
	}
	want["pmtu"] = map[string][]string{
		"1400-byte DF probe: fragmentation needed, MTU 1280": {"fragmentation needed, MTU 1280, from 10.50.1.2"},
		"client has a PMTU exception of 1280":                {"mtu 1280"},
		"IPv6: client has a PMTU exception of 1280":          {"mtu 1280"},
	}
	want["kselftest-bridge-learning"] = map[string][]string{
		"learning: unknown unicast to the test MAC does not reach h1": {"0 matching"},
		"learning: the test MAC is learned on swp1":                   {"passed after", "dev swp1 learned"},
		"learning: unicast to the test MAC now reaches h1":            {"1 matching"},
		"learning: the entry ages out":                                {"passed after", "no entry"},
		"learning: not learned with learning off":                     {"no entry"},
		"flooding: unknown unicast is not flooded to h2":              {"0 matching"},
		"flooding: unknown unicast is flooded to h2":                  {"1 matching"},
		"flooding: unregistered multicast is not flooded to h2":       {"0 matching"},
		"flooding: unregistered multicast is flooded to h2":           {"1 matching"},
	}
	want["throughput"] = map[string][]string{
		"a → b at 20 Mbit/s ±15 %":                   {"Mbit/s"},
		"remove the limit":                           {"clear the impairment of a:eth0"},
		"a → b unlimited now: faster than 24 Mbit/s": {"Mbit/s"},
	}
	for name, checks := range kindEvidence {
		want[name] = checks
	}
	for _, s := range scenarios.All() {
		t.Run(s.Name, func(t *testing.T) {
			out := scenario.Run(context.Background(), s, scenario.RunOptions{DumpState: true})
			for _, f := range s.Features() {
				if err := f.Probe(); err != nil {
					// This kernel lacks the feature: skipped with the probe's reason.
					if out.Status != scenario.Skip || !strings.Contains(out.Message, string(f)) || !strings.Contains(out.Message, "not supported") {
						t.Fatalf("%s on a kernel without %s: %s %s", s.Name, f, out.Status, out.Message)
					}
					t.Logf("skipped as expected: %s", out.Message)
					return
				}
			}
			if out.Status != scenario.Pass {
				t.Fatalf("%s: %s in %s: %s\n%+v\n%s", s.Name, out.Status, out.Step, out.Message, out.Checks, out.State)
			}
			if len(out.Checks) != len(s.Items()) {
				t.Errorf("ran %d steps and checks of %d", len(out.Checks), len(s.Items()))
			}
			for _, c := range out.Checks {
				for _, w := range want[s.Name][c.Name] {
					if !strings.Contains(c.Evidence, w) {
						t.Errorf("check %q: evidence lacks %q:\n%s", c.Name, w, c.Evidence)
					}
				}
			}
			if want[s.Name] == nil {
				t.Errorf("no expectations for %s", s.Name)
			}
		})
	}
	hostcheck.Unchanged(t, before)
}

// TestSameNamespaceVethARPMAC checks the fixed state answers with the MAC
// of veth1, the interface owning the address.
func TestSameNamespaceVethARPMAC(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, scenarios.SameNamespaceVeth())
	s := scenarios.SameNamespaceVeth()
	var ev []string
	for _, c := range s.Items() {
		r := c.Func(context.Background(), n)
		if c.IsStep() {
			if r.Err != nil {
				t.Fatalf("step %s: %v", c.Name, r.Err)
			}
			continue
		}
		if r.Err != nil {
			t.Fatalf("%s: %v", c.Name, r.Err)
		}
		ev = append(ev, r.Evidence)
	}
	mac := n.Node("solo").Interface("veth1").MAC.String()
	if !strings.Contains(ev[2], "is-at "+mac) {
		t.Errorf("fixed state did not answer with veth1's MAC %s:\n%s", mac, ev[2])
	}
}

// kindEvidence is what the checks of the link-kind scenarios must show.
var kindEvidence = map[string]map[string][]string{
	"vlan-trunk": {
		"left reaches right over VLAN 10, tagged":                     {"1 received", "802.1Q tag 10 carrying 10.31.0.1 → 10.31.0.2"},
		"left reaches right over VLAN 20, tagged":                     {"802.1Q tag 20 carrying 10.32.0.1 → 10.32.0.2"},
		"left reaches right over VLAN 10 in 802.1ad service VLAN 100": {"802.1ad service tag 100 around 802.1Q tag 10 carrying 10.33.0.1 → 10.33.0.2"},
	},
	"bridge-vlan": {
		"a reaches b in VLAN 10":        {"1 received"},
		"a does not reach c in VLAN 20": {"no reply"},
	},
	"macvlan": {
		"c1 reaches c2 (bridge mode)":               {"1 received"},
		"peer resolves c1 to c1's own MAC":          {"is-at", "want c1:mv0's MAC"},
		"host does not reach c1 through its parent": {"no reply"},
	},
	"ipvlan": {
		"c1 reaches c2":                     {"1 received"},
		"peer resolves c1 to the NIC's MAC": {"is-at", "want host:eth0's MAC"},
	},
	"vxlan-overlay": {
		"h1 reaches h2 over the overlay":           {"1 received", "VXLAN vni 42 carrying 192.168.50.1 → 192.168.50.2", ":4789"},
		"h1 resolves h2 by ARP through the tunnel": {"is-at"},
	},
	"bond-failover": {
		"bond1's member f0 is down":           {"a:f0: down (admin down"},
		"bond1 is up on its other member":     {"a:bond1: up (admin up"},
		"a reaches b over bond1 with f0 down": {"1 received"},
		"a reaches b over VLAN 100 on bond0":  {"1 received"},
	},
	"vrf": {
		"ha reaches the server through red":                {"1 received", "ttl 63"},
		"hb does not reach the server (blue has no route)": {"10.81.0.2"},
		"ha reaches red's router ID (a dummy in red)":      {"1 received"},
	},
	"wireguard": {
		"a reaches b through the tunnel": {"1 received", "WireGuard data message", ":51820"},
	},
}

// TestPreinstalledNeighboursWithout: the network of the built-in
// preinstalled-neighbours, resolving its neighbours by ARP, fails exactly
// the checks that want pre-installed entries (the entries ARP made are not
// permanent, or do not exist), and passes the reach checks.
func TestPreinstalledNeighboursWithout(t *testing.T) {
	hostcheck.RequireRoot(t)
	out := scenario.Run(context.Background(), scenarios.PreinstalledNeighboursWith(false), scenario.RunOptions{})
	for _, c := range out.Checks {
		wantPass := strings.Contains(c.Name, "reaches")
		if (c.Status == scenario.Pass) != wantPass {
			t.Errorf("without pre-installed neighbours, %q: %s, want pass %v: %s", c.Name, c.Status, wantPass, c.Evidence)
		}
	}
	if len(out.Checks) != 6 {
		t.Errorf("%d checks ran, want 6: %s %s", len(out.Checks), out.Status, out.Message)
	}
}
