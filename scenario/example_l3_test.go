package scenario_test

import (
	"fmt"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// A gateway named by node must be reachable over one link: with two, the
// route is refused naming both. Dev picks one; Nexthops spreads the route
// over both (ECMP, or weighted).
func ExampleNodeSpec_AddRoute() {
	s := scenario.Define("two-links", "a host with two links to one router")
	h := s.Host("h").Route("10.9.0.0/16", "r")
	s.Router("r")
	s.Link("h:p1", "r:p1").Subnet("10.0.1.0/24")
	s.Link("h:p2", "r:p2").Subnet("10.0.2.0/24")
	fmt.Println(s.Validate())

	s = scenario.Define("two-links", "a host with two links to one router")
	h = s.Host("h").AddRoute(scenario.RouteSpec{Dst: "10.9.0.0/16", Nexthops: []scenario.Nexthop{
		{Via: "r", Dev: "p1", Weight: 1},
		{Via: "r", Dev: "p2", Weight: 3},
	}})
	h.AddRoute(scenario.RouteSpec{Dst: "10.66.0.0/16", Type: scenario.RouteBlackhole})
	h.AddRoute(scenario.RouteSpec{Dst: "default", Via: "r", Dev: "p2", Table: 100})
	h.Rule(scenario.RuleSpec{Priority: 100, From: "10.0.2.0/24", Table: 100})
	s.Router("r")
	s.Link("h:p1", "r:p1").Subnet("10.0.1.0/24")
	s.Link("h:p2", "r:p2").Subnet("10.0.2.0/24")
	fmt.Println(s.Validate())
	// Output:
	// scenario "two-links": node "h" route 10.9.0.0/16 via r: node "r" is reachable over 2 links (h:p1—r:p1 at 10.0.1.2, h:p2—r:p2 at 10.0.2.2), so the gateway is ambiguous (fix: pick one link with Dev, name an address, or spread the route over both with Nexthops)
	// <nil>
}

// A firewall is a list of rules per node; each counts what it matches, and
// checks read the count by name with Node.RuleCounter (or assert.Counted).
func ExampleNodeSpec_Firewall() {
	s := scenario.Define("fw", "a router filtering what it forwards")
	s.Router("fw").
		Firewall(scenario.FirewallRule{Name: "web", Hook: scenario.HookForward,
			Match: scenario.Match{Proto: "tcp", DPort: "80,443"}, Action: scenario.Accept})
	s.Host("a").Route("default", "fw")
	s.Link("a", "fw")
	fmt.Println(s.Validate())
	// Output:
	// scenario "fw": node "fw" firewall rule "web": DPort: "80,443" is not a port or a port range (fix: write a port 1..65535 or a range like 8000-8100 (low-high))
}

// Impairments apply per direction: the traffic leaving one end. Rate alone
// is a token bucket (tbf); any other field needs netem.
func ExampleLinkSpec_ImpairFrom() {
	s := scenario.Define("wan", "a slow, lossy uplink")
	s.Host("office")
	s.Host("isp")
	s.Link("office", "isp").
		ImpairFrom("office", scenario.Impairment{Rate: 2_000_000}).
		ImpairFrom("isp", scenario.Impairment{Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 1})
	fmt.Println(s.Validate(), s.Features())
	// Output:
	// <nil> [veth tbf netem]
}
