package scenario_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestPingGroupRangeAsIfFromTheStart: a node's net.ipv4.ping_group_range
// is written when first needed, not at build, and nobody can tell: read
// through Sysctl, seen by foreign code (Do), or used by a ping, it lets
// every group open ping sockets; a value the scenario sets wins, before a
// ping and after.
func TestPingGroupRangeAsIfFromTheStart(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("ping-group", "four hosts on a switch")
	s.Switch("sw")
	for _, h := range []string{"a", "b", "c"} {
		s.Host(h)
		s.Link(h, "sw")
	}
	s.Host("own").Sysctl("net.ipv4.ping_group_range", "0 0")
	s.Link("own", "sw")
	n := scenario.New(t, s)
	const open = "0\t2147483647"
	if v, err := n.Node("a").Sysctl("net.ipv4.ping_group_range"); err != nil || v != open {
		t.Errorf("a: Sysctl reads %q (%v), want %q", v, err, open)
	}
	var seen []byte
	err := n.Node("b").Do(func() (err error) {
		seen, err = os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
		return err
	})
	if err != nil || strings.TrimSpace(string(seen)) != open {
		t.Errorf("b: code in Do reads %q (%v), want %q", seen, err, open)
	}
	ctx := context.Background()
	if _, err := assert.Ping(ctx, n.Node("c"), n.Node("a").IPv4()); err != nil {
		t.Errorf("c pings a: %v", err)
	}
	if _, err := assert.Ping(ctx, n.Node("own"), n.Node("a").IPv4()); err != nil {
		t.Errorf("own pings a with its own range (root's group 0 is in it): %v", err)
	}
	if v, err := n.Node("own").Sysctl("net.ipv4.ping_group_range"); err != nil || v != "0\t0" {
		t.Errorf("own: Sysctl reads %q (%v), want its own %q", v, err, "0\t0")
	}
	if err := n.Node("c").SetSysctl("net.ipv4.ping_group_range", "1 0"); err != nil {
		t.Fatal(err)
	}
	if _, err := assert.Ping(ctx, n.Node("c"), n.Node("a").IPv4()); err == nil || !strings.Contains(err.Error(), "ping_group_range") {
		t.Errorf("c pings a after closing its range: %v, want the refusal naming ping_group_range", err)
	}
}
