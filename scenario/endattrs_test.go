package scenario_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestSetEndBuilds: each end of a link gets its own MAC, MTU, txqueuelen
// and group, read back through netlink; an end without SetEnd keeps the
// link's MTU.
func TestSetEndBuilds(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("set-end", "")
	s.Host("left")
	s.Host("right")
	s.Host("third")
	s.Link("left", "right").
		SetEnd("left", scenario.EndAttrs{MAC: "02:00:00:00:aa:01", MTU: 1400, TxQueueLen: 500, Group: 7}).
		SetEnd("right:eth0", scenario.EndAttrs{MAC: "02:00:00:00:aa:02", MTU: 9000, Group: 9})
	s.Link("left", "third").MTU(1300).SetEnd("left", scenario.EndAttrs{MTU: 1450})
	n := scenario.New(t, s)
	for _, w := range []struct {
		node, iface, mac string
		mtu, qlen, group int
	}{
		{"left", "eth0", "02:00:00:00:aa:01", 1400, 500, 7},
		{"right", "eth0", "02:00:00:00:aa:02", 9000, 0, 9},
		{"left", "eth1", "", 1450, 0, 0},
		{"third", "eth0", "", 1300, 0, 0},
	} {
		l, err := n.Node(w.node).Netlink().LinkByName(w.iface)
		if err != nil {
			t.Fatal(err)
		}
		a := l.Attrs()
		if w.mac != "" && a.HardwareAddr.String() != w.mac || a.MTU != w.mtu || w.qlen != 0 && a.TxQLen != w.qlen || int(a.Group) != w.group {
			t.Errorf("%s:%s: mac %s mtu %d txqueuelen %d group %d; want mac %q mtu %d txqueuelen %d group %d",
				w.node, w.iface, a.HardwareAddr, a.MTU, a.TxQLen, a.Group, w.mac, w.mtu, w.qlen, w.group)
		}
	}
}

// TestSetEndMACMatters: a MAC used twice, or not unicast, is refused
// before anything is built; a MAC set on an end is what its ARP reply
// carries, and not what another end's does.
func TestSetEndMACMatters(t *testing.T) {
	for name, tc := range map[string]struct {
		define func(s *scenario.Spec)
		want   string
	}{
		"duplicate": {func(s *scenario.Spec) {
			s.Host("c")
			s.Link("a", "b").SetEnd("a", scenario.EndAttrs{MAC: "02:00:00:00:00:05"})
			s.Link("c", "b").SetEnd("c", scenario.EndAttrs{MAC: "02:00:00:00:00:05"})
		}, "MAC 02:00:00:00:00:05 of c:eth0 is also the MAC of a:eth0"},
		"multicast": {func(s *scenario.Spec) { s.Link("a", "b").SetEnd("a", scenario.EndAttrs{MAC: "01:00:5e:00:00:01"}) }, "is not a unicast address"},
		"not a MAC": {func(s *scenario.Spec) { s.Link("a", "b").SetEnd("a", scenario.EndAttrs{MAC: "nope"}) }, `MAC "nope" of a:eth0 is not an Ethernet address`},
		"no end":    {func(s *scenario.Spec) { s.Link("a", "b").SetEnd("c", scenario.EndAttrs{MTU: 1400}) }, `SetEnd("c") names neither end`},
		"twice": {func(s *scenario.Spec) {
			s.Link("a", "b").SetEnd("a", scenario.EndAttrs{MTU: 1400}).SetEnd("a:eth0", scenario.EndAttrs{Group: 1})
		}, "the end a:eth0 is set twice"},
		"MTU":        {func(s *scenario.Spec) { s.Link("a", "b").SetEnd("b", scenario.EndAttrs{MTU: 40}) }, "MTU 40 of b:eth0 is out of range"},
		"txqueuelen": {func(s *scenario.Spec) { s.Link("a", "b").SetEnd("b", scenario.EndAttrs{TxQueueLen: -1}) }, "txqueuelen -1 of b:eth0 is negative"},
		"IPv6 MTU": {func(s *scenario.Spec) {
			s.Link("a", "b").Subnet("fd00:7::/64").SetEnd("b", scenario.EndAttrs{MTU: 1200})
		}, "MTU 1200 of b:eth0 is below 1280"},
	} {
		t.Run(name, func(t *testing.T) {
			s := scenario.Define("t", "")
			s.Host("a")
			s.Host("b")
			tc.define(s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "fix:") {
				t.Fatalf("%v, want %q with a fix", err, tc.want)
			}
			if n, berr := scenario.Build(context.Background(), s); n != nil || berr == nil {
				t.Errorf("Build accepted it: %v", berr)
			}
		})
	}

	hostcheck.RequireRoot(t)
	s := pair("set-mac")
	s.Links()[0].SetEnd("right", scenario.EndAttrs{MAC: "02:00:00:00:bb:02"})
	n := scenario.New(t, s)
	left, right := n.Node("left"), n.Node("right")
	r, err := assert.ARP(context.Background(), left, "eth0", right.IPv4())
	if err != nil {
		t.Fatal(err)
	}
	if r.MAC.String() != "02:00:00:00:bb:02" {
		t.Errorf("ARP answered %s, want the MAC set: %s", r.MAC, r.Evidence())
	}
	if l, _ := left.Netlink().LinkByName("eth0"); l.Attrs().HardwareAddr.String() == "02:00:00:00:bb:02" {
		t.Error("the left end has the right end's MAC")
	}
	t.Log(r.Evidence())
}
