package scenario

// BaseKconfig are the kernel config options every scenario needs: network
// namespaces, IPv4, packet sockets (ARP checks, captures) and ICMP sockets.
var BaseKconfig = []string{"CONFIG_NET", "CONFIG_NAMESPACES", "CONFIG_NET_NS", "CONFIG_INET", "CONFIG_PACKET"}

// kconfig maps each feature to the kernel config options it takes.
var kconfig = map[Feature][]string{
	FeatureVeth:   {"CONFIG_VETH"},
	FeatureBridge: {"CONFIG_BRIDGE"},
	FeatureNetem:  {"CONFIG_NET_SCHED", "CONFIG_NET_SCH_NETEM"},
	FeatureTBF:    {"CONFIG_NET_SCHED", "CONFIG_NET_SCH_TBF"},
	FeatureHTB:    {"CONFIG_NET_SCHED", "CONFIG_NET_SCH_HTB"},
	FeatureRED:    {"CONFIG_NET_SCHED", "CONFIG_NET_SCH_RED"},
	FeatureVLAN:   {"CONFIG_VLAN_8021Q"},
	FeatureVXLAN:  {"CONFIG_VXLAN"},
	FeatureVRF:    {"CONFIG_NET_VRF"},
	FeatureDummy:  {"CONFIG_DUMMY"},
	// macvlan in bridge mode between the ports of a parent.
	FeatureMacvlan: {"CONFIG_MACVLAN"},
	// An inet-family nftables table with a nat chain and masquerade.
	FeatureMasquerade: {"CONFIG_NETFILTER", "CONFIG_NF_CONNTRACK", "CONFIG_NF_NAT", "CONFIG_NF_TABLES",
		"CONFIG_NF_TABLES_INET", "CONFIG_NFT_NAT", "CONFIG_NFT_MASQ"},
	// SNAT and DNAT rules in an inet-family table.
	FeatureNAT: {"CONFIG_NETFILTER", "CONFIG_NF_CONNTRACK", "CONFIG_NF_NAT", "CONFIG_NF_TABLES",
		"CONFIG_NF_TABLES_INET", "CONFIG_NFT_NAT", "CONFIG_NFT_CT"},
	// The firewall: an inet filter table with counters, conntrack state
	// matches and reject.
	FeatureNFTables: {"CONFIG_NETFILTER", "CONFIG_NF_CONNTRACK", "CONFIG_NF_TABLES", "CONFIG_NF_TABLES_INET",
		"CONFIG_NFT_CT", "CONFIG_NFT_REJECT", "CONFIG_NFT_REJECT_INET"},
	FeatureIPv6:       {"CONFIG_IPV6"},
	FeatureBond:       {"CONFIG_BONDING"},
	FeatureBridgeVLAN: {"CONFIG_BRIDGE", "CONFIG_BRIDGE_VLAN_FILTERING"},
	FeatureIPVlan:     {"CONFIG_IPVLAN"},
	FeatureWireGuard:  {"CONFIG_WIREGUARD"},
}

// Kconfig returns the kernel config options (CONFIG_…) the feature needs.
func (f Feature) Kconfig() []string { return kconfig[f] }

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
