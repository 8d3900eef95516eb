package scenario

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/vtest-dev/vtest/internal/hostcheck"
)

// TestNeighbourSenderReportsFailure: a request the kernel refuses in the
// middle of a batch (an interface that does not exist) fails the
// installation with the entry named, while the others of the batch, before
// and after it, are installed.
func TestNeighbourSenderReportsFailure(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := Define("neigh-sender", "two hosts")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b").Subnet("10.77.0.0/24")
	n, err := Build(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	a := n.Node("a")
	eth0 := a.Interface("eth0").Index
	mac, _ := net.ParseMAC("02:00:00:00:00:01")
	err = a.addNeighbours(func(add func(int, netip.Addr, net.HardwareAddr) error) error {
		for i := 10; i < 10+neighbourBatch+10; i++ {
			index := eth0
			if i == 20 {
				index = 9999 // no such interface
			}
			if err := add(index, netip.AddrFrom4([4]byte{10, 77, 0, byte(i % 250)}), mac); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "10.77.0.20") || !strings.Contains(err.Error(), "interface 9999") {
		t.Fatalf("error %v, want one naming 10.77.0.20 on interface 9999", err)
	}
	neighs, err := a.nl.NeighList(eth0, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, ne := range neighs {
		if ne.State == netlink.NUD_PERMANENT {
			got[ne.IP.String()] = true
		}
	}
	for _, ip := range []int{10, 19, 21, 200} {
		if !got[fmt.Sprintf("10.77.0.%d", ip)] {
			t.Errorf("10.77.0.%d is not installed, permanent: %v", ip, got)
		}
	}
}
