package scenario

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// chainSpec defines routers r0 … rN joined in a chain by n links, each with
// its own /30 (explicit subnets, as generated topologies write them).
func chainSpec(n int) *Spec {
	s := Define("chain", "")
	for i := 0; i <= n; i++ {
		s.Router(fmt.Sprintf("r%d", i))
	}
	base := netip.MustParseAddr("10.0.0.0").As4()
	for i := 0; i < n; i++ {
		a := base
		off := uint32(i) * 4
		a[1], a[2], a[3] = byte(off>>16), byte(off>>8), byte(off)
		s.Link(fmt.Sprintf("r%d", i), fmt.Sprintf("r%d", i+1)).Subnet(netip.PrefixFrom(netip.AddrFrom4(a), 30).String())
	}
	return s
}

// pairsSpec defines n host pairs, each joined by one link with automatic
// addresses.
func pairsSpec(n int) *Spec {
	s := Define("pairs", "")
	s.Range4 = "10.0.0.0/8"
	for i := 0; i < n; i++ {
		a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
		s.Host(a)
		s.Host(b)
		s.Link(a, b)
	}
	return s
}

func BenchmarkValidateLinks(b *testing.B) {
	for _, n := range []int{10000, 40000, 100000} {
		s := chainSpec(n)
		b.Run(fmt.Sprintf("chain=%d", n), func(b *testing.B) {
			for b.Loop() {
				if err := s.Validate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, n := range []int{10000, 40000} {
		s := pairsSpec(n)
		b.Run(fmt.Sprintf("pairs=%d", n), func(b *testing.B) {
			for b.Loop() {
				if err := s.Validate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// starSpec defines a router with n hosts around it, automatic addresses.
func starSpec(n int) *Spec {
	s := Define("star", "")
	s.Range4 = "10.0.0.0/8"
	s.Router("r")
	for i := 0; i < n; i++ {
		h := fmt.Sprintf("h%d", i)
		s.Host(h)
		s.Link("r", h)
	}
	return s
}

// switchStarSpec defines a core switch linked to n access switches (one
// layer-2 domain, merged link by link).
func switchStarSpec(n int) *Spec {
	s := Define("switches", "")
	s.Switch("core")
	for i := 0; i < n; i++ {
		sw := fmt.Sprintf("sw%d", i)
		s.Switch(sw)
		s.Link("core", sw)
	}
	return s
}

// TestValidateGrowsLinearly proves, without timing, that validation does
// work proportional to the number of links: the comparisons counted by the
// passes that relate one object to many others grow at most 1.5 times as
// fast as the scenario (a quadratic pass grows 4 times as fast as the
// scenario between these two sizes).
func TestValidateGrowsLinearly(t *testing.T) {
	const small, factor = 1000, 4
	for _, shape := range []struct {
		name   string
		define func(n int) *Spec
	}{
		{"chain of routers, explicit subnets", chainSpec},
		{"host pairs, automatic addresses", pairsSpec},
		{"router star, automatic addresses", starSpec},
		{"switch star", switchStarSpec},
	} {
		t.Run(shape.name, func(t *testing.T) {
			steps := func(n int) int {
				v := &validator{s: shape.define(n)}
				if _, err := v.s.planWith(v); err != nil {
					t.Fatalf("%d links: %v", n, err)
				}
				return v.steps
			}
			a, b := steps(small), steps(small*factor)
			t.Logf("%d links: %d steps; %d links: %d steps", small, a, small*factor, b)
			if a == 0 {
				t.Fatalf("no steps counted for %d links: the counter is not wired", small)
			}
			if limit := float64(a) * factor * 1.5; float64(b) > limit {
				t.Errorf("%d links took %d steps, %.1f times the %d of %d links: validation grows faster than linearly (limit %.0f)",
					small*factor, b, float64(b)/float64(a), a, small, limit)
			}
		})
	}
}

// TestValidateOverlapsStillFound keeps the linear overlap search honest: a
// subnet inside, around or equal to an earlier one is refused, naming both;
// automatic subnets step over explicit ones.
func TestValidateOverlapsStillFound(t *testing.T) {
	two := func(first, second string) *Spec {
		s := Define("t", "")
		for _, n := range []string{"a", "b", "c"} {
			s.Host(n)
		}
		s.Link("a", "b").Subnet(first)
		s.Link("b", "c").Subnet(second)
		return s
	}
	for _, tc := range []struct {
		name, first, second, want string
	}{
		{"inside", "10.1.0.0/16", "10.1.2.0/24", "subnet 10.1.2.0/24 overlaps 10.1.0.0/16 of link a:eth0—b:eth0"},
		{"around", "10.1.2.0/24", "10.1.0.0/16", "subnet 10.1.0.0/16 overlaps 10.1.2.0/24 of link a:eth0—b:eth0"},
		{"equal", "10.1.2.0/24", "10.1.2.0/24", "subnet 10.1.2.0/24 overlaps 10.1.2.0/24 of link a:eth0—b:eth0"},
		{"IPv6 inside", "fd00:1::/48", "fd00:1:0:5::/64", "subnet fd00:1:0:5::/64 overlaps fd00:1::/48"},
	} {
		err := two(tc.first, tc.second).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	if err := two("10.1.2.0/24", "10.1.3.0/24").Validate(); err != nil {
		t.Errorf("disjoint subnets refused: %v", err)
	}
	if err := two("10.1.2.0/24", "fd00::/64").Validate(); err != nil {
		t.Errorf("subnets of two families refused: %v", err)
	}

	// Three segments on one subnet: each later one is named once.
	s := Define("t", "")
	for _, n := range []string{"a", "b", "c", "d"} {
		s.Host(n)
	}
	s.Link("a", "b").Subnet("10.9.0.0/24")
	s.Link("b", "c").Subnet("10.9.0.0/24")
	s.Link("c", "d").Subnet("10.9.0.0/24")
	err := s.Validate()
	if n := strings.Count(fmt.Sprint(err), "overlaps"); n != 2 {
		t.Errorf("three segments on one subnet: %d overlap errors, want 2: %v", n, err)
	}

	// The first automatic /24 is taken by an explicit subnet: the link
	// without one gets the next.
	s = Define("t", "")
	for _, n := range []string{"a", "b", "c"} {
		s.Host(n)
	}
	s.Link("a", "b")
	s.Link("b", "c").Subnet("10.200.0.0/24")
	p, err := s.plan()
	if err != nil {
		t.Fatal(err)
	}
	if got := p.links[0].a.addrs; len(got) != 1 || got[0].String() != "10.200.1.1/24" {
		t.Errorf("automatic address %v, want 10.200.1.1/24 (10.200.0.0/24 is taken)", got)
	}
}
