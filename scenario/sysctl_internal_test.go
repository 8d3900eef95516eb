package scenario

import (
	"testing"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/internal/nsx"
)

// TestBaselineProbe shows the probe at work on a namespace that inherited
// values other than the baseline (as on a host with rp_filter=2): the
// probing node rewrites them and reports them, so that createNodes gives
// them to every other node. The host's own settings are never touched: the
// "inherited" values are written inside the throwaway namespace first.
func TestBaselineProbe(t *testing.T) {
	hostcheck.RequireRoot(t)
	pn := &planNode{spec: &NodeSpec{name: "h1", kind: RoleHost}}
	s := nodeSetup{probe: baselineSysctls}
	var got map[string]string
	ns, err := nsx.New(func() error {
		for _, name := range []string{"net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.arp_ignore"} {
			if err := nsx.WriteSysctl(name, "2"); err != nil {
				return err
			}
		}
		if err := s.writeSysctls(pn, nil); err != nil {
			return err
		}
		got = map[string]string{}
		for _, kv := range baselineSysctls {
			got[kv[0]], _ = nsx.ReadSysctl(kv[0])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Close()
	for _, kv := range baselineSysctls {
		if got[kv[0]] != kv[1] {
			t.Errorf("%s = %q after setup, want %q", kv[0], got[kv[0]], kv[1])
		}
	}
	want := [][2]string{{"net.ipv4.conf.all.rp_filter", "0"}, {"net.ipv4.conf.default.arp_ignore", "0"}}
	if len(s.differ) != len(want) || s.differ[0] != want[0] || s.differ[1] != want[1] {
		t.Errorf("probe found %v, want %v", s.differ, want)
	}
}

// TestBaselineReachesEveryNode shows that what one node's probe found is
// written in every node of the build. The wanted values are swapped for
// ones no host has (rp_filter 2, arp_announce 1), so the probe must find
// them different and every node must end up with them.
func TestBaselineReachesEveryNode(t *testing.T) {
	hostcheck.RequireRoot(t)
	saved := baselineSysctls
	defer func() { baselineSysctls = saved }()
	baselineSysctls = [][2]string{
		{"net.ipv4.conf.all.rp_filter", "2"},
		{"net.ipv4.conf.default.rp_filter", "2"},
		{"net.ipv4.conf.all.arp_announce", "1"},
	}
	s := Define("baseline", "")
	s.Switch("sw")
	for _, h := range []string{"h1", "h2", "h3"} {
		s.Host(h)
		s.Link(h, "sw")
	}
	// A node's own setting wins over the baseline.
	s.Host("h4").Sysctl("net.ipv4.conf.all.arp_announce", "2")
	s.Link("h4", "sw")
	n := New(t, s)
	for _, nd := range n.Nodes() {
		for _, kv := range baselineSysctls {
			want := kv[1]
			if nd.Name() == "h4" && kv[0] == "net.ipv4.conf.all.arp_announce" {
				want = "2"
			}
			if v, _ := nd.Sysctl(kv[0]); v != want {
				t.Errorf("%s: %s = %q, want %q", nd.Name(), kv[0], v, want)
			}
		}
		if v, _ := nd.Sysctl("net.ipv4.conf.eth0.rp_filter"); nd.Name() != "sw" && v != "2" {
			t.Errorf("%s: eth0 rp_filter = %q, want 2 (from default, before the link existed)", nd.Name(), v)
		}
	}
}
