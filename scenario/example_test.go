package scenario_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// A scenario is defined with a builder and validated before anything
// exists; every mistake names the scenario, the object and the fix.
func ExampleSpec_Validate() {
	s := scenario.Define("routed", "client — router — server")
	s.Host("client").Route("default", "192.168.1.1")
	s.Router("router")
	s.Link("client", "router").Subnet("10.0.1.0/24")
	fmt.Println(s.Validate())
	// Output:
	// scenario "routed": node "client" route default via 192.168.1.1: gateway 192.168.1.1 is not on any subnet of "client" (10.0.1.0/24) (fix: use an address on one of the node's links)
}

// Build creates the network in anonymous namespaces; Close tears it down.
func ExampleBuild() {
	s := scenario.Define("nat", "two hosts behind a NAT router")
	s.Switch("lan").Subnet("10.0.1.0/24")
	s.Router("gw").Masquerade("wan")
	s.Host("a").Route("default", "gw")
	s.Host("outside")
	s.Link("gw:lan", "lan").Addrs("10.0.1.1/24", "")
	s.Link("a", "lan")
	s.Link("gw:wan", "outside").Addrs("203.0.113.1/24", "203.0.113.2/24")

	n, err := scenario.Build(context.Background(), s)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer n.Close()
	r, err := assert.SeenSource(context.Background(), n.Node("a"), n.Node("outside"), n.Node("outside").IPv4())
	fmt.Println(r.Seen.Addr(), err)
}

// New is the httptest-style helper for go test: the network is torn down by
// t.Cleanup and the test fails (or skips) readably if it cannot be built.
func ExampleNew() {
	var t *testing.T // in a test function
	s := scenario.Define("pair", "")
	s.Host("left")
	s.Host("right")
	s.Link("left", "right")
	n := scenario.New(t, s)
	assert.Reachable(t, n.Node("left"), n.Node("right"))
}

// Processes run inside a node and are killed at teardown.
func ExampleNode_Command() {
	var n *scenario.Network // built by Build or New
	daemon := n.Node("server").Command("my-daemon", "-listen", "10.0.0.2:8080")
	if err := daemon.Start(); err != nil {
		fmt.Println(err)
	}
	fmt.Print(daemon.Output())
}

// Steps change the network while the scenario runs; checks observe it.
// A step is never filtered out by -run, and a failed step stops the
// scenario (the checks after it are reported as not run).
func ExampleSpec_Step() {
	s := scenario.Define("failover", "the client loses and regains the server")
	s.Host("client").Route("default", "router")
	s.Router("router")
	s.Host("server").Route("default", "router")
	s.Link("client", "router")
	s.Link("router", "server")
	s.Check("reachable", assert.Reach("client", "server"))
	s.Step("server link down", scenario.LinkDown("router:eth1"))
	s.Check("unreachable", assert.NoReach("client", "server"))
	s.Step("server link up", scenario.LinkUp("router:eth1"))
	s.Check("reachable again", assert.Eventually(assert.Reach("client", "server", assert.Timeout(50*time.Millisecond)), 3*time.Second, 0))
	fmt.Println(s.Validate())
	// Output:
	// <nil>
}
