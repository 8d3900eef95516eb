package assert_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// checked returns a small routed scenario (client—r1—server, and a switch
// sw with h1 and h2) with one check added: Validate sees the check with
// the topology. It needs no root: nothing is built.
func checked(name string, c scenario.CheckFunc) *scenario.Spec {
	s := scenario.Define("checks", "")
	s.Host("client").Route("default", "r1")
	s.Router("r1")
	s.Host("server").Route("default", "r1")
	s.Link("client", "r1").Subnet("10.0.1.0/24").Subnet("fd00:1::/64")
	s.Link("r1", "server").Subnet("10.0.2.0/24").Subnet("fd00:2::/64")
	s.Switch("sw").Subnet("10.0.3.0/24")
	s.Host("h1")
	s.Host("h2")
	s.Link("h1", "sw")
	s.Link("h2", "sw")
	s.Check(name, c)
	return s
}

// TestChecksRefuseOptionsTheyDoNotRead: every scenario check refuses, at
// validation, an option it would ignore, naming the scenario, the check,
// the option and the options it reads.
func TestChecksRefuseOptionsTheyDoNotRead(t *testing.T) {
	for _, tc := range []struct {
		check scenario.CheckFunc
		want  string
	}{
		{assert.Reach("client", "server", assert.Port(80)),
			`scenario "checks": check "c": assert.Reach does not read option Port (fix: remove Port; assert.Reach reads Count, Interval, Timeout, Loss, Source, Via, IPv6, Warmup, Size)`},
		{assert.Reach("client", "server", assert.Expect("filtered")), `assert.Reach does not read option Expect`},
		{assert.NoReach("client", "server", assert.Size(100)), `assert.NoReach does not read option Size`},
		{assert.Firewall("client", "server", 80, assert.Count(3)), `assert.Firewall does not read option Count`},
		{assert.Firewall("client", "server", 80, assert.Port(81)), `assert.Firewall does not read option Port`},
		{assert.Connects("client", "server", 80, assert.Absent()), `assert.Connects does not read option Absent`},
		{assert.LinkIs("client:eth0", assert.MAC("02:00:00:00:00:01")), `assert.LinkIs does not read option MAC (fix: remove MAC; assert.LinkIs reads Expect)`},
		{assert.FDBEntry("sw", "h1:eth0", assert.Port(80)), `assert.FDBEntry does not read option Port`},
		{assert.ARPUnanswered("client", "r1", assert.MAC("r1:eth0")), `assert.ARPUnanswered does not read option MAC`},
		{assert.ARPAnswered("client", "r1", assert.IPv6()), `assert.ARPAnswered does not read option IPv6`},
		{assert.Rate("client", "server", assert.Count(5)), `assert.Rate does not read option Count`},
		{assert.Routes("client", "server", assert.Timeout(time.Second)), `assert.Routes does not read option Timeout`},
		{assert.NeighbourEntry("client", "r1", assert.Via("eth0")), `assert.NeighbourEntry does not read option Via`},
		{assert.PMTU("client", "server", assert.Loss(0.5)), `assert.PMTU does not read option Loss`},
		{assert.LossWithin("client", "server", 0, 0.1, assert.Loss(0.5)), `assert.LossWithin does not read option Loss`},
		{assert.Walked("client", "server", assert.Count(2)), `assert.Walked does not read option Count`},
		{assert.HopIs("client", "server", 1, "r1", assert.Count(2)), `assert.HopIs does not read option Count`},
		{assert.Spread("client", "server", "r1", []string{"eth0", "eth1"}, assert.For(time.Second)), `assert.Spread does not read option For`},
		{assert.Reach("client", "server", assert.Mbps(1, 2)), `assert.Reach does not read option Mbps`},
		{assert.Reach("client", "server", assert.UDP(), assert.Listen()), `assert.Reach does not read option UDP`},
		// Count(0) sets the zero value: it is still an option given.
		{assert.Routes("client", "server", assert.Count(0)), `assert.Routes does not read option Count`},
		// A wrapped check's refusals are the wrapper's.
		{assert.Eventually(assert.Reach("client", "server", assert.Port(1)), time.Second, 0), `assert.Reach does not read option Port`},
		{assert.Consistently(assert.NoReach("client", "server", assert.Gateway("10.0.1.1")), time.Second, 10*time.Millisecond), `assert.NoReach does not read option Gateway`},
		// Out-of-range values are refused at validation too.
		{assert.Reach("client", "server", assert.Count(-1)), `assert.Reach: count -1 is negative (fix: use a value in range)`},
		{assert.Connects("client", "server", 70000), `assert.Connects: port 70000 is out of range`},
		{assert.Reach("client", "server", nil), `assert.Reach was given a nil option`},
	} {
		err := checked("c", tc.check).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v\nwant it to contain %s", err, tc.want)
		}
	}
}

// TestChecksAreValidatedWithTheTopology: a check naming a node, an
// interface or a target the scenario lacks is refused by Validate, before
// anything is built, with the same message as a step's.
func TestChecksAreValidatedWithTheTopology(t *testing.T) {
	// The step's message, to compare with.
	step := checked("c", assert.Reach("client", "server"))
	step.Step("down", scenario.LinkDown("clinet:eth0"))
	stepErr := step.Validate()
	if stepErr == nil || !strings.Contains(stepErr.Error(), `step "down": node "clinet" is not defined (fix: define it with Host, Router or Switch, or fix the name)`) {
		t.Fatalf("step: %v", stepErr)
	}
	for _, tc := range []struct {
		check scenario.CheckFunc
		want  string
	}{
		{assert.Reach("clinet", "server"),
			`scenario "checks": check "c": node "clinet" is not defined (fix: define it with Host, Router or Switch, or fix the name)`},
		{assert.Reach("client", "sever"),
			`scenario "checks": check "c": target "sever" is neither an IP address nor a node (fix: name a node (client, r1, server, sw, h1, h2) or write an address like 10.0.0.1)`},
		{assert.Reach("client", "server", assert.Via("eth7")),
			`check "c": node "client" has no interface "eth7" (fix: use one of: eth0)`},
		{assert.LinkIs("client:eth9"), `check "c": node "client" has no interface "eth9"`},
		{assert.LinkIs("client"), `check "c": "client" does not name an interface (fix: write node:interface, like r1:eth0)`},
		{assert.CountersRose("server:eth3", assert.TxPackets, 1, 0), `node "server" has no interface "eth3"`},
		{assert.Frames("h1:eth0", assert.Frame{}, "h3:eth0", assert.Match{}), `node "h3" is not defined`},
		{assert.FDBEntry("sw", "h1:eth5"), `node "h1" has no interface "eth5"`},
		{assert.FDBEntry("sw", "h1", assert.Via("p9")), `MAC "h1" is neither a MAC address nor node:interface`},
		{assert.FDBEntry("sw", "h1:eth0", assert.Via("p9")), `node "sw" has no interface "p9"`},
		{assert.FDBEntry("switch", "h1:eth0"), `node "switch" is not defined`},
		{assert.NeighbourEntry("client", "r1", assert.MAC("r1:eth9")), `node "r1" has no interface "eth9"`},
		{assert.ARPAnswered("client", "r1", assert.MAC("zz")), `MAC "zz" is neither a MAC address nor node:interface`},
		{assert.Spread("client", "server", "r2", []string{"eth0"}), `node "r2" is not defined`},
		{assert.Spread("client", "server", "r1", []string{"eth0", "eth4"}), `node "r1" has no interface "eth4"`},
		{assert.Forwarded("client", "server", "router"), `node "router" is not defined`},
		{assert.PortForwarded("client", "server", 80, "srv", 8080), `node "srv" is not defined`},
		{assert.Masqueraded("client", "outside", "r1"), `node "outside" is not defined`},
		{assert.SeenAs("client", "server", "server"), `assert.SeenAs: want "server" is not an IP address`},
		{assert.HopIs("client", "server", 1, "r9"), `target "r9" is neither an IP address nor a node`},
		{assert.SysctlIs("cilent", "net.ipv4.ip_forward", "1"), `node "cilent" is not defined`},
		{assert.Routes("isp", "server", assert.Absent()), `node "isp" is not defined`},
		{assert.ConntrackEntry("r1", "srv"), `target "srv" is neither`},
		{assert.Counted("r2", "rule", assert.Reach("client", "server")), `node "r2" is not defined`},
		{assert.Counted("r1", "rule", assert.Reach("client", "srv")), `target "srv" is neither`},
		{assert.Eventually(assert.LinkIs("r1:eth5"), time.Second, 0), `node "r1" has no interface "eth5"`},
	} {
		err := checked("c", tc.check).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v\nwant it to contain %s", err, tc.want)
		}
	}
	// assert's own actions are validated as steps.
	for _, tc := range []struct {
		action scenario.Action
		want   string
	}{
		{assert.MarkCounters("client:eth9"), `step "s": node "client" has no interface "eth9"`},
		{assert.Deliver("h1:eth0", assert.Frame{}, "h9:eth0", assert.Match{}), `step "s": node "h9" is not defined`},
		{assert.Deliver("h1:eth0", assert.Frame{}, "h2:eth0", assert.Match{}, assert.Count(2)), `step "s": assert.Deliver does not read option Count (fix: remove Count; assert.Deliver reads Timeout)`},
	} {
		s := checked("c", assert.Reach("client", "server"))
		s.Step("s", tc.action)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v\nwant it to contain %s", err, tc.want)
		}
	}
	// A step waiting for a check validates the check.
	s := checked("c", assert.Reach("client", "server"))
	s.Step("wait", scenario.WaitFor(assert.Reach("client", "srever"), time.Second, 0))
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), `step "wait": target "srever" is neither`) {
		t.Errorf("WaitFor: %v", err)
	}
}

// TestValidChecksPass: the same checks used as documented validate
// cleanly, so the refusals above are not a blanket refusal.
func TestValidChecksPass(t *testing.T) {
	for i, c := range []scenario.CheckFunc{
		assert.Reach("client", "server"),
		assert.Reach("client", "server", assert.IPv6(), assert.Count(3), assert.Interval(time.Millisecond), assert.Timeout(time.Second), assert.Loss(0.5), assert.Size(100), assert.Warmup(1), assert.Via("eth0"), assert.Source(netip.MustParseAddr("10.0.1.1"))),
		assert.Reach("client", "10.0.2.2"),
		assert.Reach("client", netip.MustParseAddr("192.0.2.1")),
		assert.Reach("client", "127.0.0.1", assert.Via("lo")),
		assert.NoReach("client", "192.0.2.1", assert.Count(2), assert.Interval(time.Millisecond), assert.Timeout(time.Second)),
		assert.LatencyWithin("client", "server", []assert.Bound{assert.Below(assert.P50, time.Second)}, assert.Count(5), assert.Loss(0.2)),
		assert.PMTU("client", "server", assert.Size(1400), assert.PathMTU(1280), assert.IPv6()),
		assert.Routes("client", "server", assert.Via("eth0"), assert.Gateway("10.0.1.2")),
		assert.Routes("client", "192.0.2.1", assert.Absent()),
		assert.Routes("client", "server", assert.PathMTU(1400), assert.Absent()),
		assert.ConntrackEntry("r1", "server", assert.Port(80), assert.Absent()),
		assert.Firewall("client", "server", 80, assert.Expect("filtered"), assert.UDP(), assert.Listen(), assert.Timeout(time.Second)),
		assert.Connects("client", "server", 80, assert.Timeout(time.Second)),
		assert.Echoes("client", "server", 53, assert.Source(netip.MustParseAddr("10.0.1.1"))),
		assert.ConnectOutcome("client", "server", 80, assert.Refused, assert.Timeout(time.Second)),
		assert.Rate("client", "server", assert.Mbps(1, 0), assert.For(time.Second), assert.Timeout(3*time.Second), assert.Port(5201)),
		assert.Rate("client", "server", assert.Mbps(1, 0)),
		assert.Spread("client", "server", "r1", []string{"eth0", "eth1"}, assert.Count(8), assert.Port(9)),
		assert.Spread("client", "server", "r1", []string{"eth0"}),
		assert.Forwarded("client", "server", "r1", assert.Count(4), assert.Timeout(time.Second)),
		assert.HopIs("client", "server", 1, "r1", assert.Timeout(time.Second)),
		assert.Walked("client", "server", assert.IPv6()),
		assert.SeenAs("client", "server", "10.0.1.2", assert.Port(9), assert.Timeout(time.Second)),
		assert.LossWithin("client", "server", 0, 0.1, assert.Count(10), assert.Warmup(1)),
		assert.PortForwarded("client", "server", 80, "server", 8080),
		assert.Masqueraded("client", "server", "r1"),
		assert.ARPAnswered("client", "r1", assert.MAC("r1:eth0"), assert.Via("eth0"), assert.Count(2)),
		assert.ARPAnswered("client", "10.0.1.1", assert.MAC("02:00:00:00:00:01")),
		assert.ARPUnanswered("client", "10.0.1.99", assert.Timeout(time.Second)),
		assert.LinkIs("client:eth0", assert.Expect("down")),
		assert.LinkIs("sw:sw"),
		assert.LinkIs("client:lo"),
		assert.SysctlIs("r1", "net.ipv4.ip_forward", "1"),
		assert.CountersRose("server:eth0", assert.RxPackets, 1, 0),
		assert.NeighbourEntry("client", "r1", assert.Expect("reachable"), assert.MAC("r1:eth0")),
		assert.NeighbourEntry("client", "10.0.1.9", assert.Absent()),
		assert.FDBEntry("sw", "h1:eth0", assert.Via("eth0")),
		assert.FDBEntry("sw", "02:00:00:00:00:01", assert.Absent()),
		assert.Frames("h1:eth0", assert.Frame{}, "h2:eth0", assert.Match{}, assert.Count(2), assert.Expect(assert.AtLeastCount)),
		assert.Eventually(assert.Reach("client", "server"), time.Second, 0),
		assert.Consistently(assert.NoReach("client", "192.0.2.1"), time.Second, 10*time.Millisecond),
		assert.Counted("r1", "rule", assert.Reach("client", "server")),
	} {
		if err := checked("c", c).Validate(); err != nil {
			t.Errorf("check #%d: %v", i, err)
		}
	}
	s := checked("c", assert.Reach("client", "server"))
	s.Step("mark", assert.MarkCounters("server:eth0"))
	s.Step("deliver", assert.Deliver("h1:eth0", assert.Frame{}, "h2:eth0", assert.Match{}, assert.Timeout(time.Second)))
	if err := s.Validate(); err != nil {
		t.Errorf("actions: %v", err)
	}
}
