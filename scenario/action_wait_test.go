package scenario_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestLinkDownReturnsWhenKernelActed: right after LinkDown, the very next
// checks read the kernel's new state: the downed end is down, its peer has
// no carrier by its operstate, and the neighbour entries of both ends are
// gone (the peer's evicted on carrier loss, where the kernel evicts:
// arp_evict_nocarrier / ndisc_evict_nocarrier). Two rounds, the first
// straight after the build, when the kernel's linkwatch work is rate
// limited and acts on the peer's carrier loss up to a second late. (The
// second round is IPv4 only: the kernel drops IPv6 addresses when a link
// goes down, keep_addr_on_down being 0.)
func TestLinkDownReturnsWhenKernelActed(t *testing.T) {
	hostcheck.RequireRoot(t)
	ctx := context.Background()
	s := scenario.Define("link-down-waits", "")
	s.IPv6 = true
	s.Host("left")
	s.Host("right")
	s.Link("left", "right")
	s.Step("down", scenario.LinkDown("left:eth0"))
	n := scenario.New(t, s)
	left, right := n.Node("left"), n.Node("right")
	evicts := map[bool]bool{}
	for _, v6 := range []bool{false, true} {
		name := "net.ipv4.conf.eth0.arp_evict_nocarrier"
		if v6 {
			name = "net.ipv6.conf.eth0.ndisc_evict_nocarrier"
		}
		v, err := right.Sysctl(name)
		evicts[v6] = err == nil && strings.TrimSpace(v) == "1"
		if !evicts[v6] {
			t.Logf("%s is %q (%v): the kernel keeps neighbours on carrier loss; not checking their eviction", name, v, err)
		}
	}
	down := s.Items()[0].Func
	for round := 1; round <= 2; round++ {
		families := []bool{false, true}
		if round == 2 {
			families = families[:1]
		}
		for _, v6 := range families {
			var opts []assert.Option
			if v6 {
				opts = append(opts, assert.IPv6())
			}
			assert.Reachable(t, left, right, opts...)
			assert.Reachable(t, right, left, opts...)
		}
		res := down(ctx, n)
		if res.Err != nil {
			t.Fatalf("round %d: LinkDown: %v", round, res.Err)
		}
		t.Logf("round %d: %s", round, res.Evidence)
		if !strings.Contains(res.Evidence, "right:eth0 lost its carrier") {
			t.Errorf("round %d: evidence does not say when the peer lost its carrier: %s", round, res.Evidence)
		}
		// Neighbours first: reading one link (RTM_GETLINK) makes newer
		// kernels act on its pending carrier change, a neighbour dump
		// does not.
		for _, v6 := range families {
			lAddr, rAddr := left.IPv4(), right.IPv4()
			if v6 {
				lAddr, rAddr = left.IPv6(), right.IPv6()
			}
			if evicts[v6] {
				if _, err := assert.Neighbour(ctx, right, lAddr, assert.Absent()); err != nil {
					t.Errorf("round %d: right's entry for left after it lost its carrier: %v", round, err)
				}
			}
			if _, err := assert.Neighbour(ctx, left, rAddr, assert.Absent()); err != nil {
				t.Errorf("round %d: left's entry for right after its link went down: %v", round, err)
			}
		}
		r, err := assert.LinkStatus(ctx, right, "eth0", assert.Expect("no-carrier"))
		if err != nil || r.Oper == "up" {
			t.Errorf("round %d: right:eth0 right after LinkDown: %v %v", round, r, err)
		}
		if _, err := assert.LinkStatus(ctx, left, "eth0", assert.Expect("down")); err != nil {
			t.Errorf("round %d: left:eth0: %v", round, err)
		}
		if err := n.Apply(ctx, scenario.LinkUp("left:eth0")); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLinkDownOnSwitchPort: right after a host's link to a switch goes
// down, the switch port has no carrier and the bridge has dropped what it
// learned on it (it disables the port when it acts on the carrier loss).
func TestLinkDownOnSwitchPort(t *testing.T) {
	hostcheck.RequireRoot(t)
	ctx := context.Background()
	s := scenario.Define("link-down-switch", "")
	s.Switch("sw")
	s.Host("h1")
	s.Host("h2")
	s.Link("h1", "sw:p1")
	s.Link("h2", "sw:p2")
	n := scenario.New(t, s)
	sw, h1 := n.Node("sw"), n.Node("h1")
	assert.Reachable(t, h1, n.Node("h2"))
	mac := h1.Interface("eth0").MAC
	if r, err := assert.FDBLookup(ctx, sw, mac, assert.Via("p1"), assert.Expect(assert.FDBLearned)); err != nil {
		t.Fatalf("before: %v", err)
	} else {
		t.Log(r.Evidence())
	}
	if err := n.Apply(ctx, scenario.LinkDown("h1:eth0")); err != nil {
		t.Fatal(err)
	}
	if r, err := assert.FDBLookup(ctx, sw, mac, assert.Absent()); err != nil {
		t.Errorf("right after LinkDown: %v", err)
	} else {
		t.Log(r.Evidence())
	}
	if _, err := assert.LinkStatus(ctx, sw, "p1", assert.Expect("no-carrier")); err != nil {
		t.Errorf("switch port right after LinkDown: %v", err)
	}
}
