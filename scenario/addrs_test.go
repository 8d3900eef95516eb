package scenario

import (
	"fmt"
	"slices"
	"testing"
)

// planAddrs returns every veth end's addresses as "node:iface" -> CIDRs.
func planAddrs(t *testing.T, s *Spec) map[string][]string {
	t.Helper()
	p, err := s.plan()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, n := range p.nodes {
		for _, i := range n.ifaces {
			for _, a := range i.addrs {
				k := n.spec.name + ":" + i.name
				out[k] = append(out[k], a.String())
			}
		}
	}
	return out
}

func wantAddrs(t *testing.T, got map[string][]string, end string, want ...string) {
	t.Helper()
	if !slices.Equal(got[end], want) {
		t.Errorf("%s has %v, want exactly %v", end, got[end], want)
	}
}

// TestExplicitAddrsAreExact: an end given explicit addresses gets exactly
// those, on a switch with two subnets and on a link with two; the end an
// Addrs call leaves empty gets no address in the other end's subnet; ends
// without explicit addresses still get one in every subnet.
func TestExplicitAddrsAreExact(t *testing.T) {
	t.Run("switch with two subnets", func(t *testing.T) {
		s := Define("t", "")
		s.Switch("sw").Subnet("10.0.0.0/24").Subnet("10.0.1.0/24")
		s.Host("h1")
		s.Host("h2")
		s.Host("h3")
		s.Link("h1", "sw").Addrs("10.0.0.1/24", "")
		s.Link("h2", "sw").Addrs("10.0.1.2/24", "")
		s.Link("h3", "sw")
		got := planAddrs(t, s)
		wantAddrs(t, got, "h1:eth0", "10.0.0.1/24")
		wantAddrs(t, got, "h2:eth0", "10.0.1.2/24")
		wantAddrs(t, got, "h3:eth0", "10.0.0.2/24", "10.0.1.1/24")
	})
	t.Run("link with two subnets, one end empty", func(t *testing.T) {
		s := Define("t", "")
		s.Host("a")
		s.Host("b")
		s.Link("a", "b").Subnet("1.0.3.0/24").Subnet("1.0.4.0/24").Addrs("", "1.0.3.1/24")
		got := planAddrs(t, s)
		wantAddrs(t, got, "b:eth0", "1.0.3.1/24")
		wantAddrs(t, got, "a:eth0", "1.0.4.1/24")
	})
	t.Run("empty end on a one-subnet link", func(t *testing.T) {
		s := Define("t", "")
		s.Host("a")
		s.Host("b")
		s.Link("a", "b").Subnet("10.0.0.0/24").Addrs("10.0.0.9/24", "")
		got := planAddrs(t, s)
		wantAddrs(t, got, "a:eth0", "10.0.0.9/24")
		wantAddrs(t, got, "b:eth0")
	})
	t.Run("explicit IPv4 gets no automatic IPv6", func(t *testing.T) {
		s := Define("t", "")
		s.IPv6 = true
		s.Host("a")
		s.Host("b")
		s.Link("a", "b").Addrs("10.0.0.1/24", "")
		got := planAddrs(t, s)
		wantAddrs(t, got, "a:eth0", "10.0.0.1/24")
		wantAddrs(t, got, "b:eth0", "fd00:7e57::1/64")
	})
	t.Run("two address pairs in declared subnets", func(t *testing.T) {
		s := Define("t", "")
		s.Host("a")
		s.Host("b")
		s.Link("a", "b").Subnet("10.0.0.0/24").Subnet("10.0.1.0/24").
			Addrs("10.0.0.1/24", "10.0.0.2/24").Addrs("10.0.1.1/24", "10.0.1.2/24")
		got := planAddrs(t, s)
		wantAddrs(t, got, "a:eth0", "10.0.0.1/24", "10.0.1.1/24")
		wantAddrs(t, got, "b:eth0", "10.0.0.2/24", "10.0.1.2/24")
	})
}

// TestAddrsRefusedSayWhatWorks: addresses in two subnets of one family
// without Subnet, and Addrs("", ""), are refused with the declaration that
// works.
func TestAddrsRefusedSayWhatWorks(t *testing.T) {
	s := Define("t", "")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b").Addrs("10.0.0.1/24", "10.0.0.2/24").Addrs("10.0.1.1/24", "10.0.1.2/24")
	refused(t, s, "address 10.0.1.1/24 of a:eth0 is outside the subnet 10.0.0.0/24",
		`declare every subnet of the segment: Link("a", "b").Subnet("10.0.0.0/24").Subnet("10.0.1.0/24")`)

	s = Define("t", "")
	s.Switch("sw").Subnet("10.0.0.0/24").Subnet("10.0.1.0/24")
	s.Host("h")
	s.Link("h", "sw").Addrs("10.0.2.1/24", "")
	refused(t, s, "outside the subnets 10.0.0.0/24, 10.0.1.0/24",
		fmt.Sprintf("declare every subnet of the segment: %s", `Switch("sw").Subnet("10.0.0.0/24").Subnet("10.0.1.0/24").Subnet("10.0.2.0/24")`))

	s = Define("t", "")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b").Addrs("", "")
	refused(t, s, `has Addrs("", "")`, "L2()")
}
