package scenarios_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
	"github.com/vtest-dev/vtest/scenarios"
)

// mustFail builds s and runs check against it: the check must fail, with
// every one of want in its message or evidence.
func mustFail(t *testing.T, s *scenario.Spec, check scenario.CheckFunc, want ...string) {
	t.Helper()
	n := scenario.New(t, s)
	r := check(context.Background(), n)
	if r.Err == nil {
		t.Fatalf("check passed on a broken network:\n%s", r.Evidence)
	}
	for _, w := range want {
		if !strings.Contains(r.Err.Error()+"\n"+r.Evidence, w) {
			t.Errorf("failure does not mention %q:\n%v\n%s", w, r.Err, r.Evidence)
		}
	}
	t.Logf("failed as it should: %v", r.Err)
}

// checkOf returns the check called name of s.
func checkOf(t *testing.T, s *scenario.Spec, name string) scenario.CheckFunc {
	t.Helper()
	for _, c := range s.Checks() {
		if c.Name == name {
			return c.Func
		}
	}
	t.Fatalf("%s has no check %q", s.Name, name)
	return nil
}

// ecmpWith is the ecmp topology with r1's route to the server given.
func ecmpWith(route scenario.RouteSpec) *scenario.Spec {
	s := scenario.Define("ecmp-broken", "")
	s.Host("client").Route("default", "r1")
	s.Router("r1").Sysctl("net.ipv4.fib_multipath_hash_policy", "1").AddRoute(route)
	s.Router("r2").AddRoute(scenario.RouteSpec{Dst: "10.0.1.0/24", Via: "r1", Dev: "a"})
	s.Host("server").Route("default", "r2")
	s.Link("client", "r1").Subnet("10.0.1.0/24")
	s.Link("r1:a", "r2:a").Subnet("10.0.2.0/24")
	s.Link("r1:b", "r2:b").Subnet("10.0.3.0/24")
	s.Link("r2", "server").Subnet("10.0.9.0/24")
	return s
}

func TestECMPCheckFailsOnOnePath(t *testing.T) {
	hostcheck.RequireRoot(t)
	check := checkOf(t, scenarios.ECMP(), "flows use both paths")
	t.Run("single path", func(t *testing.T) {
		mustFail(t, ecmpWith(scenario.RouteSpec{Dst: "10.0.9.0/24", Via: "r2", Dev: "a"}), check, "not spread", "r1:b carried none")
	})
	t.Run("layer-3 hash", func(t *testing.T) {
		// Layer-3 hashing (policy 0): every flow between the same two
		// addresses takes one path.
		s := ecmpWith(scenario.RouteSpec{Dst: "10.0.9.0/24", Nexthops: []scenario.Nexthop{{Via: "r2", Dev: "a"}, {Via: "r2", Dev: "b"}}})
		s.Nodes()[1].Sysctl("net.ipv4.fib_multipath_hash_policy", "0")
		mustFail(t, s, check, "not spread")
	})
}

// policyWith is the policy-routing topology with the host's table 100
// route and rule given (nil: none).
func policyWith(route *scenario.RouteSpec, rule *scenario.RuleSpec) *scenario.Spec {
	s := scenario.Define("policy-broken", "")
	h := s.Host("host").Route("default", "r1")
	if route != nil {
		h.AddRoute(*route)
	}
	if rule != nil {
		h.Rule(*rule)
	}
	s.Router("r1").Masquerade("wan")
	s.Router("r2").Masquerade("wan")
	s.Switch("net").Subnet("192.0.2.0/24")
	s.Host("server")
	s.Link("host:isp1", "r1:lan").Addrs("10.1.0.2/24", "10.1.0.1/24")
	s.Link("host:isp2", "r2:lan").Addrs("10.2.0.2/24", "10.2.0.1/24")
	s.Link("r1:wan", "net").Addrs("192.0.2.1/24", "")
	s.Link("r2:wan", "net").Addrs("192.0.2.2/24", "")
	s.Link("server", "net").Addrs("192.0.2.10/24", "")
	return s
}

func TestPolicyRoutingCheckFails(t *testing.T) {
	hostcheck.RequireRoot(t)
	check := checkOf(t, scenarios.PolicyRouting(), "from 10.2.0.2: leaves through r2")
	t.Run("no rule", func(t *testing.T) {
		mustFail(t, policyWith(&scenario.RouteSpec{Dst: "default", Via: "r2", Table: 100}, nil), check, "server saw source 192.0.2.1, want 192.0.2.2")
	})
	t.Run("rule to a table without the destination", func(t *testing.T) {
		mustFail(t, policyWith(&scenario.RouteSpec{Dst: "10.99.0.0/16", Via: "r2", Table: 100},
			&scenario.RuleSpec{Priority: 100, From: "10.2.0.0/24", Table: 100}), check, "want 192.0.2.2")
	})
	t.Run("rule to a table emptied at run time", func(t *testing.T) {
		s := scenarios.PolicyRouting()
		n := scenario.New(t, s)
		h := n.Node("host").Netlink()
		routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: 100}, netlink.RT_FILTER_TABLE)
		if err != nil || len(routes) != 1 {
			t.Fatalf("table 100: %v, %v", routes, err)
		}
		if err := h.RouteDel(&routes[0]); err != nil {
			t.Fatal(err)
		}
		r := check(context.Background(), n)
		if r.Err == nil || !strings.Contains(r.Err.Error(), "want 192.0.2.2") {
			t.Fatalf("check on an empty table 100: %v\n%s", r.Err, r.Evidence)
		}
	})
}

// firewallWith is the firewall topology with the router's rules given.
func firewallWith(rules ...scenario.FirewallRule) *scenario.Spec {
	s := scenario.Define("firewall-broken", "")
	s.Host("client").Route("default", "fw")
	fw := s.Router("fw")
	for _, r := range rules {
		fw.Firewall(r)
	}
	s.Host("server").Route("default", "fw")
	s.Link("client", "fw:inside").Subnet("10.0.1.0/24")
	s.Link("fw:dmz", "server").Subnet("10.0.2.0/24")
	return s
}

func TestFirewallChecksFail(t *testing.T) {
	hostcheck.RequireRoot(t)
	fs := scenarios.Firewall()
	rules := fs.Nodes()[1].FirewallRules()
	t.Run("drop rule matching nothing", func(t *testing.T) {
		broken := rules[3]
		broken.DPort = "9000-9010" // misses 8082
		mustFail(t, firewallWith(rules[0], rules[1], rules[2], broken), checkOf(t, fs, "8082 is dropped silently"),
			"ended allowed, want filtered")
	})
	t.Run("drop instead of refuse", func(t *testing.T) {
		broken := rules[2]
		broken.Action, broken.RejectWith = scenario.Drop, ""
		mustFail(t, firewallWith(rules[0], rules[1], broken, rules[3]), checkOf(t, fs, "8081 is refused"),
			"ended filtered, want refused")
	})
	t.Run("refuse instead of drop", func(t *testing.T) {
		broken := rules[3]
		broken.Action, broken.RejectWith = scenario.Reject, scenario.RejectPortUnreachable
		mustFail(t, firewallWith(rules[0], rules[1], rules[2], broken), checkOf(t, fs, "8082 is dropped silently"),
			"ended rejected, want filtered")
	})
	t.Run("allowed port refused by an earlier rule", func(t *testing.T) {
		block := scenario.FirewallRule{Name: "block-all", Hook: scenario.HookForward, Match: scenario.Match{Proto: "tcp"},
			Action: scenario.Reject, RejectWith: scenario.RejectTCPReset}
		mustFail(t, firewallWith(rules[0], block, rules[1], rules[2], rules[3]), checkOf(t, fs, "8080 is allowed"),
			"ended refused, want allowed")
	})
	t.Run("right outcome, other rule", func(t *testing.T) {
		// A catch-all drop before the range rule: 8082 times out, but
		// the named rule counted nothing.
		catch := scenario.FirewallRule{Name: "catch-all", Hook: scenario.HookForward, Match: scenario.Match{Proto: "tcp", DPort: "8082"}, Action: scenario.Drop}
		mustFail(t, firewallWith(rules[0], rules[1], rules[2], catch, rules[3]), checkOf(t, fs, "8082 is dropped silently"),
			`rule "drop-8082-8099" on fw matched nothing`)
	})
}

func TestPortForwardChecksFail(t *testing.T) {
	hostcheck.RequireRoot(t)
	check := assert.PortForwarded("client", "203.0.113.1", 8080, "server", 80)
	define := func(rules ...scenario.NATRule) *scenario.Spec {
		s := scenario.Define("port-forward-broken", "")
		s.Host("client")
		gw := s.Router("gw")
		for _, r := range rules {
			gw.NAT(r)
		}
		s.Host("server").Route("default", "gw")
		s.Link("client", "gw:wan").Addrs("203.0.113.2/24", "203.0.113.1/24")
		s.Link("gw:lan", "server").Addrs("10.0.1.1/24", "10.0.1.2/24")
		return s
	}
	dnat := scenario.NATRule{Name: "web", Action: scenario.DNAT, Match: scenario.Match{In: "wan", Proto: "tcp", DPort: "8080"}, To: "10.0.1.2:80"}
	t.Run("no NAT rule", func(t *testing.T) {
		mustFail(t, define(), check, "refused")
	})
	t.Run("forward to the wrong port", func(t *testing.T) {
		wrong := dnat
		wrong.To = "10.0.1.2:81"
		mustFail(t, define(wrong), check, "refused")
	})
	t.Run("server sees the router", func(t *testing.T) {
		snat := scenario.NATRule{Action: scenario.SNAT, Match: scenario.Match{Out: "lan"}, To: "10.0.1.1"}
		mustFail(t, define(dnat, snat), check, "server saw 10.0.1.1, not the client's 203.0.113.2")
	})
	t.Run("counter of a rule that did not act", func(t *testing.T) {
		other := scenario.NATRule{Name: "other", Action: scenario.DNAT, Match: scenario.Match{In: "wan", Proto: "udp", DPort: "53"}, To: "10.0.1.2"}
		mustFail(t, define(dnat, other), assert.Counted("gw", "other", check), `rule "other" on gw matched nothing`)
	})
	t.Run("counter of a missing rule", func(t *testing.T) {
		mustFail(t, define(dnat), assert.Counted("gw", "nope", check), `no nftables rule called "nope"`, "web")
	})
}

func TestImpairmentChecksFail(t *testing.T) {
	hostcheck.RequireRoot(t)
	is := scenarios.ImpairedLink()
	define := func(from string) *scenario.Spec {
		s := scenario.Define("impaired-broken", "")
		s.Host("a")
		s.Host("b")
		l := s.Link("a", "b").Subnet("10.0.0.0/24")
		if from != "" {
			l.ImpairFrom(from, scenario.Impairment{Rate: 8_000_000})
		}
		return s
	}
	t.Run("no limit", func(t *testing.T) {
		mustFail(t, define(""), checkOf(t, is, "a → b at most 8 Mbit/s"), "want 4.0..8.4 Mbit/s")
	})
	t.Run("limit on the other direction", func(t *testing.T) {
		s := define("b")
		n := scenario.New(t, s)
		for _, name := range []string{"a → b at most 8 Mbit/s", "b → a not limited"} {
			if r := checkOf(t, is, name)(context.Background(), n); r.Err == nil {
				t.Errorf("%s passed with the limit on the other direction:\n%s", name, r.Evidence)
			}
		}
	})
	t.Run("loss check on a lossless link", func(t *testing.T) {
		mustFail(t, define(""), assert.LossWithin("a", "b", 0.05, 0.45, assert.Count(20)), "loss a → 10.0.0.2 is 0%")
	})
	t.Run("jitter bound on a steady link", func(t *testing.T) {
		mustFail(t, define(""), checkOf(t, scenarios.LossyLink(), "round trips vary between 5 and 15 ms"), "min is")
	})
}

// TestSeenAsSourceOption: the Source option picks the address a policy
// rule matches; without it the main table decides.
func TestSeenAsSourceOption(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, scenarios.PolicyRouting())
	r := assert.SeenAs("host", "192.0.2.10", "192.0.2.2")(context.Background(), n)
	if r.Err == nil {
		t.Fatalf("without a source the host left through r2:\n%s", r.Evidence)
	}
	r = assert.SeenAs("host", "192.0.2.10", "192.0.2.2", assert.Source(netip.MustParseAddr("10.2.0.2")), assert.Timeout(time.Second))(context.Background(), n)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
}
