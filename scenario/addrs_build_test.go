package scenario_test

import (
	"context"
	"testing"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestHostInWrongSubnet: on a switch with two subnets, a host declared in
// the other subnet is unreachable (it has no address in the sender's),
// while a host declared in the sender's subnet is reachable.
func TestHostInWrongSubnet(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("wrong-subnet", "")
	s.Switch("sw").Subnet("10.0.0.0/24").Subnet("10.0.1.0/24")
	s.Host("h1")
	s.Host("h2")
	s.Host("h3")
	s.Link("h1", "sw").Addrs("10.0.0.1/24", "")
	s.Link("h2", "sw").Addrs("10.0.1.2/24", "")
	s.Link("h3", "sw").Addrs("10.0.0.3/24", "")
	n := scenario.New(t, s)
	for node, want := range map[string]string{"h1": "10.0.0.1/24", "h2": "10.0.1.2/24", "h3": "10.0.0.3/24"} {
		if got := n.Node(node).Interface("eth0").Addrs; len(got) != 1 || got[0].String() != want {
			t.Errorf("%s has %v, want exactly %s", node, got, want)
		}
	}
	if r := assert.NoReach("h1", "10.0.1.2")(context.Background(), n); r.Err != nil {
		t.Errorf("h1 reaches h2 in the other subnet: %v", r.Err)
	}
	if r := assert.Reach("h1", "10.0.0.3")(context.Background(), n); r.Err != nil {
		t.Errorf("h1 does not reach h3 in its subnet: %v", r.Err)
	}
}
