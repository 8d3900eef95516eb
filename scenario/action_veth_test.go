package scenario_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

func TestAddVethValidated(t *testing.T) {
	for _, tc := range []struct {
		a    scenario.Action
		want string
	}{
		{scenario.AddVeth("left:eth0", "right:e9", "", ""), `node "left" already has an interface "eth0"`},
		{scenario.AddVeth("left:e9", "ghost:e9", "", ""), `node "ghost" is not defined`},
		{scenario.AddVeth("left:e9", "right:this-name-is-too-long", "", ""), "is not a valid Linux name"},
		{scenario.AddVeth("left:e9", "right:e9", "10.9.0.300/24", ""), "not a valid CIDR"},
		{scenario.AddVeth("left", "right:e9", "", ""), "does not name an interface"},
	} {
		s := pair("t")
		s.Step("x", tc.a)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.a, err, tc.want)
		}
	}
}

// TestAddVeth: a third host with no link is unreachable until the step
// links it to left at run time.
func TestAddVeth(t *testing.T) {
	hostcheck.RequireRoot(t)
	ctx := context.Background()
	s := pair("add-veth")
	s.Host("third")
	s.Step("link third", scenario.AddVeth("left:e9", "third:e0", "10.9.0.1/24", "10.9.0.2/24"))
	n := scenario.New(t, s)
	ping := func() error {
		_, err := assert.Ping(ctx, n.Node("left"), netip.MustParseAddr("10.9.0.2"), assert.Count(1), assert.Timeout(time.Second))
		return err
	}
	expect(t, "no link: left reaches third", false, ping())
	ev := step(t, ctx, s, n, "link third")
	if !strings.Contains(ev, "third:e0 has its carrier") {
		t.Errorf("evidence: %s", ev)
	}
	expect(t, "linked: left reaches third", true, ping())
	if i := n.Node("third").Interface("e0"); i == nil || i.PeerInterface != "e9" {
		t.Errorf("third's Interface e0: %+v", i)
	}
}
