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
	want["netem-delay"] = map[string][]string{"round trip at least 20 ms": {"min"}}
	want["vlan"] = map[string][]string{"left reaches right over VLAN 10": {"1 received"}}
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
	for _, s := range scenarios.All() {
		t.Run(s.Name, func(t *testing.T) {
			out := scenario.Run(context.Background(), s, scenario.RunOptions{DumpState: true})
			for name, f := range map[string]scenario.Feature{"netem-delay": scenario.FeatureNetem, "vlan": scenario.FeatureVLAN} {
				if err := f.Probe(); s.Name == name && err != nil {
					// This kernel lacks the feature: skipped with the probe's reason.
					if out.Status != scenario.Skip || !strings.Contains(out.Message, string(f)) {
						t.Fatalf("%s on a kernel without %s: %s %s", name, f, out.Status, out.Message)
					}
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
