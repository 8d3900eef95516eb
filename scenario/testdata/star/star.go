// Package star is the shape of issue 13's scale figures as a suite: one
// switch with N hosts, each host reached from h1 (N−1 reach checks), for
// N = 50 and N = 1000, so that `vtest run` or `vtest kernel` measures both
// in one run. h1 reaching 999 hosts would resolve about 2000 neighbours at
// once, more than the kernel's neighbour table holds by default
// (net.ipv4.neigh.default.gc_thresh3 = 1024, shared by every namespace):
// star-1000 pre-installs its neighbours (permanent entries, exempt from the
// limit), and star-50 does too, so that the two compare one way of
// building. Under TCG (no KVM) building 1000 namespaces takes minutes: the
// figures then measure the emulator.
package star

import (
	"fmt"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

func init() {
	for _, n := range []int{50, 1000} {
		scenario.Register(star(n))
	}
}

func star(hosts int) *scenario.Spec {
	s := scenario.Define(fmt.Sprintf("star-%d", hosts), fmt.Sprintf("one switch, %d hosts, h1 reaches every other host", hosts))
	s.PreinstallNeighbours()
	s.Switch("sw").Subnet("10.201.0.0/16")
	for i := 1; i <= hosts; i++ {
		s.Host(fmt.Sprintf("h%d", i))
		s.Link(fmt.Sprintf("h%d", i), "sw")
	}
	for i := 2; i <= hosts; i++ {
		s.Check(fmt.Sprintf("h1 reaches h%d", i), assert.Reach("h1", fmt.Sprintf("h%d", i)))
	}
	return s
}
