package scenario

import "net/netip"

// prefixSet holds subnets and answers whether a prefix overlaps one of
// them in time bounded by the prefix's length, not by the number of
// subnets: two prefixes overlap exactly when one contains the other, so it
// looks the prefix's supernets up among the subnets, and the prefix itself
// among the supernets of the subnets.
type prefixSet struct {
	// subnets are the prefixes added, each with the first segment that
	// added it.
	subnets map[netip.Prefix]prefixOwner
	// supernets are the strict supernets of the prefixes added, each with
	// the first subnet inside it.
	supernets map[netip.Prefix]prefixOwner
	steps     *int // counts lookups (validator.steps)
}

// prefixOwner is a subnet and the segment it belongs to.
type prefixOwner struct {
	prefix netip.Prefix
	seg    *segment
}

func newPrefixSet(steps *int) *prefixSet {
	return &prefixSet{subnets: map[netip.Prefix]prefixOwner{}, supernets: map[netip.Prefix]prefixOwner{}, steps: steps}
}

// add records the subnet p of segment seg; the first owner of a prefix is
// kept.
func (s *prefixSet) add(p netip.Prefix, seg *segment) {
	p = p.Masked()
	if _, ok := s.subnets[p]; !ok {
		s.subnets[p] = prefixOwner{p, seg}
	}
	// Supernets from the longest to the shortest; once one is known, all
	// shorter ones are too, so each is written once over all adds.
	for bits := p.Bits() - 1; bits >= 0; bits-- {
		*s.steps++
		super := netip.PrefixFrom(p.Addr(), bits).Masked()
		if _, ok := s.supernets[super]; ok {
			break
		}
		s.supernets[super] = prefixOwner{p, seg}
	}
}

// overlap returns a subnet of the set that overlaps p: p itself, a subnet
// containing p, or a subnet inside p, in that order of preference.
func (s *prefixSet) overlap(p netip.Prefix) (prefixOwner, bool) {
	p = p.Masked()
	for bits := p.Bits(); bits >= 0; bits-- {
		*s.steps++
		if o, ok := s.subnets[netip.PrefixFrom(p.Addr(), bits).Masked()]; ok {
			return o, true
		}
	}
	o, ok := s.supernets[p]
	return o, ok
}
