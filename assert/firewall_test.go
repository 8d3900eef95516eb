package assert_test

import (
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
	"github.com/vtest-dev/vtest/scenarios"
)

// nftL4 adds an inet filter chain on hook with one rule "meta l4proto
// PROTO counter VERDICT" to a node.
func nftL4(t testing.TB, nd *scenario.Node, hook *nftables.ChainHook, proto byte, final expr.Any) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(nd.NamespaceFd()), nftables.AsLasting())
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseLasting()
	tb := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "fault"})
	ch := c.AddChain(&nftables.Chain{Name: "f", Table: tb, Type: nftables.ChainTypeFilter, Hooknum: hook, Priority: nftables.ChainPriorityFilter})
	c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Counter{},
		final,
	}})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}

func TestFirewallVerdicts(t *testing.T) {
	hostcheck.RequireRoot(t)
	verdict := func(t *testing.T, n *scenario.Network, opts ...assert.Option) (*assert.VerdictResult, error) {
		return assert.PortVerdict(ctx, n.Node("client"), n.Node("server").IPv4(), append(opts, assert.Port(8080))...)
	}
	t.Run("allowed", func(t *testing.T) {
		n := scenario.New(t, scenarios.Routed())
		r, err := verdict(t, n, assert.Listen())
		mustPass(t, "listener", r, err)
		r, err = verdict(t, n, assert.Listen(), assert.Expect(assert.Refused))
		mustFail(t, "allowed is not refused", r, err, "is allowed, want refused")
		r, err = verdict(t, n, assert.Listen(), assert.UDP())
		mustPass(t, "UDP echo", r, err)
	})
	t.Run("refused", func(t *testing.T) {
		n := scenario.New(t, scenarios.Routed())
		r, err := verdict(t, n, assert.Expect(assert.Refused))
		mustPass(t, "TCP reset", r, err)
		mustContain(t, "TCP reset", nil, r, "TCP reset")
		r, err = verdict(t, n, assert.Expect(assert.Refused), assert.UDP())
		mustPass(t, "UDP port unreachable", r, err)
		mustContain(t, "UDP port unreachable", nil, r, "port unreachable) from 10.0.2.2")
		r, err = verdict(t, n)
		mustFail(t, "refused is not allowed", r, err, "is refused, want allowed")
	})
	t.Run("rejected by the router", func(t *testing.T) {
		n := scenario.New(t, scenarios.Routed())
		nftL4(t, n.Node("router"), nftables.ChainHookForward, unix.IPPROTO_TCP,
			&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED})
		r, err := verdict(t, n, assert.Listen(), assert.Expect(assert.Rejected))
		mustPass(t, "admin prohibited", r, err)
		mustContain(t, "admin prohibited", nil, r, "administratively prohibited) from 10.0.1.2")
		r, err = verdict(t, n, assert.Listen(), assert.Expect(assert.Refused))
		mustFail(t, "rejected is not refused", r, err, "is rejected, want refused")
	})
	t.Run("a dropping firewall is filtered, not refused", func(t *testing.T) {
		n := scenario.New(t, scenarios.Routed())
		nftL4(t, n.Node("router"), nftables.ChainHookForward, unix.IPPROTO_TCP, &expr.Verdict{Kind: expr.VerdictDrop})
		r, err := verdict(t, n, assert.Listen(), assert.Expect(assert.Refused), assert.Timeout(200*time.Millisecond))
		mustFail(t, "drop", r, err, "is filtered, want refused", "nothing came back")
		r, err = verdict(t, n, assert.Listen(), assert.Expect(assert.Filtered), assert.Timeout(200*time.Millisecond))
		mustPass(t, "drop expected", r, err)
		if res := assert.Firewall("client", "server", 8080, assert.Listen(), assert.Timeout(200*time.Millisecond))(ctx, n); res.Err == nil {
			t.Error("scenario form passed through a drop")
		}
	})
	t.Run("bad expectation", func(t *testing.T) {
		n := scenario.New(t, scenarios.Routed())
		if _, err := verdict(t, n, assert.Expect("open")); err == nil {
			t.Error("verdict \"open\" accepted")
		}
	})
}
