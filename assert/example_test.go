package assert_test

import (
	"fmt"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// Checks declared in a scenario are recorded by the runner with their
// evidence.
func ExampleReach() {
	s := scenario.Define("routed", "client — router — server")
	s.Host("client").Route("default", "router")
	s.Router("router")
	s.Host("server").Route("default", "router")
	s.Link("client", "router")
	s.Link("router", "server")
	s.Check("client reaches server", assert.Reach("client", "server"))
	s.Check("through the router", assert.Forwarded("client", "server", "router"))
	s.Check("server isolated from 192.0.2.1", assert.NoReach("server", "192.0.2.1"))
	s.Check("latency", assert.LatencyWithin("client", "server",
		[]assert.Bound{assert.Below(assert.P99, 10*time.Millisecond)}, assert.Count(50)))
	scenario.Register(s)
}

// Called directly, a check returns its evidence and an error.
func ExamplePing() {
	var n *scenario.Network // built by scenario.Build
	r, err := assert.Ping(ctx, n.Node("left"), n.Node("right").IPv4(), assert.Count(5), assert.Interval(time.Millisecond))
	fmt.Println(r.Evidence(), err)
}
