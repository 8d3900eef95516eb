package assert_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
	"github.com/vtest-dev/vtest/scenarios"
)

// chain is client — r1 — r2 — server on three subnets.
func chain() *scenario.Spec {
	s := scenario.Define("chain", "")
	s.Host("client").Route("default", "r1")
	s.Router("r1").Route("10.0.3.0/24", "r2")
	s.Router("r2").Route("10.0.1.0/24", "r1")
	s.Host("server").Route("default", "r2")
	s.Link("client", "r1").Subnet("10.0.1.0/24")
	s.Link("r1", "r2").Subnet("10.0.2.0/24")
	s.Link("r2", "server").Subnet("10.0.3.0/24")
	return s
}

func TestPathWalkNamesTheBrokenHop(t *testing.T) {
	hostcheck.RequireRoot(t)
	t.Run("working", func(t *testing.T) {
		n := scenario.New(t, chain())
		w := assert.WalkPath(n.Node("client"), n.Node("server").IPv4())
		if w.Break != "" || len(w.Forward) != 4 || len(w.Return) != 4 {
			t.Fatalf("walk of a working path: %s", w.Evidence())
		}
		if res := assert.Walked("client", "server")(ctx, n); res.Err != nil {
			t.Errorf("scenario form: %v", res.Err)
		}
	})
	apply := func(t *testing.T, n *scenario.Network, a scenario.Action) {
		if err := n.Apply(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, fault := range []struct {
		name   string
		inject func(t *testing.T, n *scenario.Network)
		want   string
	}{
		{"missing return route", func(t *testing.T, n *scenario.Network) { apply(t, n, scenario.DelRoute("server", "default")) },
			"return path: server has no route to 10.0.1.1 (table main"},
		{"forwarding off", func(t *testing.T, n *scenario.Network) {
			apply(t, n, scenario.SetSysctl("r2", "net.ipv4.ip_forward", "0"))
		}, "forward path: r2: net.ipv4.ip_forward=0"},
		{"link down mid-path", func(t *testing.T, n *scenario.Network) { apply(t, n, scenario.LinkDown("r2:eth0")) },
			"forward path: r1: eth1 has no carrier (its peer r2:eth0 is down)"},
		{"link down on the router's own side", func(t *testing.T, n *scenario.Network) { apply(t, n, scenario.LinkDown("r1:eth1")) },
			"forward path: r1 has no route to 10.0.3.2 (table main: network is unreachable); eth1 is down"},
		{"nft drop in forward", func(t *testing.T, n *scenario.Network) { dropForwarded(t, n.Node("r1")) },
			"forward path: r1: nftables chain fault f (hook forward) has a drop rule"},
		{"wrong gateway (no such host)", func(t *testing.T, n *scenario.Network) {
			apply(t, n, scenario.ReplaceRoute("client", "default", "10.0.1.9"))
		}, "forward path: client: next hop 10.0.1.9 (dev eth0) is no node's address (wrong gateway?)"},
		{"wrong gateway (a loop)", func(t *testing.T, n *scenario.Network) {
			apply(t, n, scenario.ReplaceRoute("r1", "10.0.3.0/24", "client"))
		}, "forward path: r1: sends packets for 10.0.3.2 back out of eth0, where they came from (route via 10.0.1.1: wrong gateway?)"},
	} {
		t.Run(fault.name, func(t *testing.T) {
			n := scenario.New(t, chain())
			fault.inject(t, n)
			r, err := assert.Ping(ctx, n.Node("client"), n.Node("server").IPv4(), assert.Timeout(100*time.Millisecond))
			if err == nil {
				t.Fatalf("ping passed through the fault: %s", r.Evidence())
			}
			if r.Walk == nil || !strings.Contains(r.Walk.Break, fault.want) {
				t.Fatalf("the walk does not name the hop: want %q in:\n%s", fault.want, r.Evidence())
			}
			t.Logf("%s", r.Walk.Break)
		})
	}
	t.Run("NAT return path goes through the router", func(t *testing.T) {
		n := scenario.New(t, scenarios.NAT())
		w := assert.WalkPath(n.Node("a1"), n.Node("outside").IPv4())
		if w.Break != "" {
			t.Fatalf("a working NAT path breaks: %s", w.Evidence())
		}
		removeNAT(t, n.Node("gw"))
		r, err := assert.Ping(ctx, n.Node("a1"), n.Node("outside").IPv4(), assert.Timeout(100*time.Millisecond))
		if err == nil {
			t.Fatal("passed without NAT")
		}
		if !strings.Contains(r.Walk.Break, "return path: outside has no route to 10.0.1.") {
			t.Errorf("without masquerade: %s", r.Walk.Evidence())
		}
	})
	t.Run("forwarding check includes the walk", func(t *testing.T) {
		n := scenario.New(t, chain())
		setSysctl(t, n.Node("r1"), "net.ipv4.ip_forward", "0")
		if assert.ForwardedBy(&fakeT{TB: t}, n, n.Node("client"), n.Node("server").IPv4(), n.Node("r1"), assert.Timeout(20*time.Millisecond)) {
			t.Fatal("forwarded with ip_forward=0")
		}
		res := assert.Forwarded("client", "server", "r2", assert.Timeout(50*time.Millisecond))(ctx, n)
		if res.Err == nil || !strings.Contains(res.Evidence, "first break: forward path: r1: net.ipv4.ip_forward=0") {
			t.Errorf("forwarding evidence: %s", res.Evidence)
		}
	})
}

func dropForwarded(t testing.TB, nd *scenario.Node) {
	firewall(t, nd, nftables.ChainHookForward, &expr.Verdict{Kind: expr.VerdictDrop})
}
