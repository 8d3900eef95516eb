package capture_test

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/capture"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestCaptureOfKinds captures a macvlan and a VXLAN besides the veth
// pairs; tcpdump reads the VXLAN capture.
func TestCaptureOfKinds(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("kinds", "")
	s.Host("a").Iface("vx0", scenario.VXLAN{VNI: 5, Underlay: "eth0", Remotes: []string{"10.6.0.2"}}).Addrs("10.7.0.1/24")
	s.Host("b").Iface("vx0", scenario.VXLAN{VNI: 5, Underlay: "eth0", Remotes: []string{"10.6.0.1"}}).Addrs("10.7.0.2/24")
	s.Link("a", "b").Subnet("10.6.0.0/24")
	s.Host("c").Iface("mv0", scenario.Macvlan{Parent: "b:eth0"}).Addrs("10.6.0.9/24")
	n := scenario.New(t, s)
	dir := t.TempDir()
	c, err := capture.Start(n, dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := assert.Ping(context.Background(), n.Node("a"), netipOf(t, "10.7.0.2")); err != nil {
		t.Fatal(err)
	}
	files := c.Stop(true)
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	want := []string{"t-a-eth0.pcapng", "t-a-vx0.pcapng", "t-b-vx0.pcapng", "t-c-mv0.pcapng"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("captured %v, want %v", names, want)
	}
	if _, err := exec.LookPath("tcpdump"); err == nil {
		out, err := exec.Command("tcpdump", "-nr", filepath.Join(dir, "t-a-vx0.pcapng")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "10.7.0.1 > 10.7.0.2: ICMP echo request") {
			t.Errorf("tcpdump on the VXLAN capture: %v\n%s", err, out)
		}
	}
	_ = os.RemoveAll(dir)
}

func netipOf(t *testing.T, s string) (a netip.Addr) {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
