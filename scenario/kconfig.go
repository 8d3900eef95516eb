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
	FeatureVLAN:   {"CONFIG_VLAN_8021Q"},
	FeatureVXLAN:  {"CONFIG_VXLAN"},
	FeatureVRF:    {"CONFIG_NET_VRF"},
	FeatureDummy:  {"CONFIG_DUMMY"},
	// macvlan in bridge mode between the ports of a parent.
	FeatureMacvlan: {"CONFIG_MACVLAN"},
	// An inet-family nftables table with a nat chain and masquerade.
	FeatureMasquerade: {"CONFIG_NETFILTER", "CONFIG_NF_CONNTRACK", "CONFIG_NF_NAT", "CONFIG_NF_TABLES",
		"CONFIG_NF_TABLES_INET", "CONFIG_NFT_NAT", "CONFIG_NFT_MASQ"},
	FeatureIPv6: {"CONFIG_IPV6"},
	FeatureNAT: {"CONFIG_NETFILTER", "CONFIG_NF_CONNTRACK", "CONFIG_NF_NAT", "CONFIG_NF_TABLES",
		"CONFIG_NF_TABLES_INET", "CONFIG_NFT_NAT"},
	FeatureNFTables: {"CONFIG_NETFILTER", "CONFIG_NF_CONNTRACK", "CONFIG_NF_TABLES", "CONFIG_NF_TABLES_INET",
		"CONFIG_NFT_CT", "CONFIG_NFT_REJECT", "CONFIG_NFT_REJECT_INET"},
	FeatureBond:       {"CONFIG_BONDING"},
	FeatureBridgeVLAN: {"CONFIG_BRIDGE", "CONFIG_BRIDGE_VLAN_FILTERING"},
	FeatureIPVlan:     {"CONFIG_IPVLAN"},
	FeatureWireGuard:  {"CONFIG_WIREGUARD"},
}

// Kconfig returns the kernel config options (CONFIG_…) the feature needs.
func (f Feature) Kconfig() []string { return kconfig[f] }

// Kconfig returns the kernel config options the scenario needs beyond
// BaseKconfig: those of its features, and CONFIG_BRIDGE_VLAN_FILTERING
// when it has both a bridge and VLANs.
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
	return out
}
