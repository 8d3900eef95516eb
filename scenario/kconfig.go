package scenario

// BaseKconfig are the kernel config options every scenario needs: network
// namespaces, IPv4, packet sockets (ARP checks, captures) and ICMP sockets.
var BaseKconfig = []string{"CONFIG_NET", "CONFIG_NAMESPACES", "CONFIG_NET_NS", "CONFIG_INET", "CONFIG_PACKET"}

// Kconfig returns the kernel config options the scenario needs beyond
// BaseKconfig: those of its features, CONFIG_BRIDGE_VLAN_FILTERING when it
// has both a bridge and VLANs, and the routing options its routes and
// policy rules take (multipath, multiple tables).
func (s *Spec) Kconfig() []string {
	var out []string
	seen := map[string]bool{}
	add := func(opts ...string) {
		for _, o := range opts {
			if !seen[o] {
				seen[o] = true
				out = append(out, o)
			}
		}
	}
	has := map[Feature]bool{}
	for _, f := range s.Features() {
		has[f] = true
		add(f.Kconfig()...)
	}
	if has[FeatureBridge] && has[FeatureVLAN] {
		add("CONFIG_BRIDGE_VLAN_FILTERING")
	}
	// Routing the kernel must be built for (not probed: a kernel without
	// it refuses the route when the scenario is built).
	for _, n := range s.nodes {
		if n == nil {
			continue
		}
		for _, r := range n.routes {
			if len(r.Nexthops) > 0 {
				add("CONFIG_IP_ROUTE_MULTIPATH")
			}
			if r.Table != 0 {
				add("CONFIG_IP_MULTIPLE_TABLES")
			}
		}
		if len(n.Rules()) > 0 {
			add("CONFIG_IP_MULTIPLE_TABLES")
		}
	}
	if has[FeatureIPv6] && seen["CONFIG_IP_MULTIPLE_TABLES"] {
		add("CONFIG_IPV6_MULTIPLE_TABLES")
	}
	return out
}
