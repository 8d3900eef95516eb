package scenario

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/nsx"
)

// Feature is a kernel feature a scenario may need. Each is declared once,
// with defineFeature, next to what needs it: a link kind's feature in the
// kind's file (FeatureVLAN in kind_vlan.go), the others here.
type Feature string

// The features of traffic control, netfilter and IPv6; each link kind's
// file declares its own (FeatureVeth, FeatureBridge, FeatureVLAN, …).
const (
	FeatureNetem      Feature = "netem"      // sch_netem: delay, loss
	FeatureTBF        Feature = "tbf"        // sch_tbf: rate limits
	FeatureHTB        Feature = "htb"        // sch_htb
	FeatureRED        Feature = "red"        // sch_red: RED queues, ECN marking
	FeatureMasquerade Feature = "masquerade" // nf_tables NAT with masquerade
	FeatureNAT        Feature = "nat"        // nf_tables SNAT/DNAT (nft_nat)
	FeatureNFTables   Feature = "nftables"   // nf_tables inet filter with reject (firewall)
	FeatureIPv6       Feature = "ipv6"
)

// AllFeatures lists every feature vtest can probe, in the order they are
// declared. It is filled when the package is initialised; do not change
// it.
var AllFeatures []Feature

// featureDef is everything vtest knows about one kernel feature: how to
// probe it, and what a kernel needs to have it.
type featureDef struct {
	// what says what the probe tries ("creating a vlan link"), for the
	// reason of a skip.
	what string
	// try tries the feature in a scratch namespace; h is the namespace's
	// rtnetlink handle.
	try func(ns netns.NsHandle, h *netlink.Handle) error
	// host, instead of try, probes a feature outside any namespace.
	host func() error
	// kconfig are the kernel config options (CONFIG_…) it takes.
	kconfig []string
	// modules are the kernel modules (as lsmod names them) that provide
	// it when it is not built in.
	modules []string
}

// featureDefs holds the declared features (at init, never changed
// afterwards).
var featureDefs = map[Feature]featureDef{}

// defineFeature declares a feature: its probe and what the kernel needs.
// Only package-level declarations call it, once per feature:
//
//	var _ = defineFeature(FeatureX, featureDef{what: …, try: …, kconfig: …, modules: …})
func defineFeature(f Feature, d featureDef) Feature {
	if _, dup := featureDefs[f]; dup {
		panic(fmt.Sprintf("scenario: feature %q declared twice", f))
	}
	featureDefs[f] = d
	AllFeatures = append(AllFeatures, f)
	return f
}

// Kconfig returns the kernel config options (CONFIG_…) the feature needs.
func (f Feature) Kconfig() []string { return featureDefs[f].kconfig }

// Modules returns the kernel modules (as lsmod names them: "8021q",
// "sch_netem") that provide the feature on a kernel that does not build
// it in; a VM image packs them.
func (f Feature) Modules() []string { return featureDefs[f].modules }

// AllModules returns the modules of every feature, each once.
func AllModules() []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range AllFeatures {
		for _, m := range f.Modules() {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// Traffic control, netfilter and IPv6.
var (
	_ = defineFeature(FeatureNetem, featureDef{
		what: "adding a netem qdisc (module sch_netem)",
		try: func(_ netns.NsHandle, h *netlink.Handle) error {
			return h.QdiscAdd(netlink.NewNetem(probeRoot, netlink.NetemQdiscAttrs{Latency: 1000}))
		},
		kconfig: []string{"CONFIG_NET_SCHED", "CONFIG_NET_SCH_NETEM"},
		modules: []string{"sch_netem"},
	})
	_ = defineFeature(FeatureTBF, featureDef{
		what: "adding a tbf qdisc (module sch_tbf)",
		try: func(_ netns.NsHandle, h *netlink.Handle) error {
			return h.QdiscAdd(&netlink.Tbf{QdiscAttrs: probeRoot, Rate: 1 << 20, Limit: 1 << 16, Buffer: 1 << 14})
		},
		kconfig: []string{"CONFIG_NET_SCHED", "CONFIG_NET_SCH_TBF"},
		modules: []string{"sch_tbf"},
	})
	_ = defineFeature(FeatureRED, featureDef{
		what: "adding a red qdisc with ecn (module sch_red)",
		try: func(ns netns.NsHandle, _ *netlink.Handle) error {
			return nsx.Do(ns, func() error {
				return addREDAt(1, netlink.HANDLE_ROOT, netlink.MakeHandle(1, 0), RED{Max: 30000, ECN: true}, 1<<20)
			})
		},
		kconfig: []string{"CONFIG_NET_SCHED", "CONFIG_NET_SCH_RED"},
		modules: []string{"sch_red"},
	})
	_ = defineFeature(FeatureHTB, featureDef{
		what:    "adding an htb qdisc (module sch_htb)",
		try:     func(_ netns.NsHandle, h *netlink.Handle) error { return h.QdiscAdd(netlink.NewHtb(probeRoot)) },
		kconfig: []string{"CONFIG_NET_SCHED", "CONFIG_NET_SCH_HTB"},
		modules: []string{"sch_htb"},
	})
	// An inet-family nftables table with a nat chain and masquerade.
	_ = defineFeature(FeatureMasquerade, featureDef{
		what: "adding an nftables masquerade rule (nf_tables, nft_masq)",
		try:  func(ns netns.NsHandle, _ *netlink.Handle) error { return installMasquerade(ns, "probe0") },
		kconfig: []string{"CONFIG_NETFILTER", "CONFIG_NF_CONNTRACK", "CONFIG_NF_NAT", "CONFIG_NF_TABLES",
			"CONFIG_NF_TABLES_INET", "CONFIG_NFT_NAT", "CONFIG_NFT_MASQ"},
		modules: []string{"nf_tables", "nf_conntrack", "nf_nat", "nft_masq"},
	})
	// SNAT and DNAT rules in an inet-family table.
	_ = defineFeature(FeatureNAT, featureDef{
		what: "adding an nftables DNAT rule (nf_tables, nft_nat)",
		try:  func(ns netns.NsHandle, _ *netlink.Handle) error { return probeNAT(ns) },
		kconfig: []string{"CONFIG_NETFILTER", "CONFIG_NF_CONNTRACK", "CONFIG_NF_NAT", "CONFIG_NF_TABLES",
			"CONFIG_NF_TABLES_INET", "CONFIG_NFT_NAT", "CONFIG_NFT_CT"},
		modules: []string{"nf_tables", "nf_conntrack", "nf_nat", "nft_nat", "nft_ct"},
	})
	// The firewall: an inet filter table with counters, conntrack state
	// matches and reject.
	_ = defineFeature(FeatureNFTables, featureDef{
		what: "adding an nftables filter rule with reject (nf_tables, nft_reject_inet)",
		try:  func(ns netns.NsHandle, _ *netlink.Handle) error { return probeFirewall(ns) },
		kconfig: []string{"CONFIG_NETFILTER", "CONFIG_NF_CONNTRACK", "CONFIG_NF_TABLES", "CONFIG_NF_TABLES_INET",
			"CONFIG_NFT_CT", "CONFIG_NFT_REJECT", "CONFIG_NFT_REJECT_INET"},
		modules: []string{"nf_tables", "nf_conntrack", "nft_ct", "nft_reject_inet"},
	})
	_ = defineFeature(FeatureIPv6, featureDef{
		host: func() error {
			if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
				return fmt.Errorf("ipv6: %w: this kernel has no IPv6 (/proc/sys/net/ipv6 is missing)", ErrNotSupported)
			}
			return nil
		},
		kconfig: []string{"CONFIG_IPV6"},
		modules: []string{"ipv6"},
	})
)

// probeRoot is the root qdisc a probe adds on the scratch namespace's
// loopback.
var probeRoot = netlink.QdiscAttrs{LinkIndex: 1, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT}

// probeVeth creates a veth pair in a scratch namespace, the parent of the
// kinds that need one.
func probeVeth(h *netlink.Handle) (netlink.Link, error) {
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, PeerName: "probe1"}
	return v, h.LinkAdd(v)
}

// ErrNotSupported is wrapped by Probe's error when the kernel lacks a
// feature. Any other error means the probe itself failed (for example no
// privilege), which is not a reason to skip.
var ErrNotSupported = errors.New("not supported by this kernel")

// probeCache holds one answer per feature for the life of the process.
var probeCache sync.Map // Feature -> *probeResult

type probeResult struct {
	once sync.Once
	err  error
}

// Probe reports whether this kernel has the feature, by actually trying it
// in a scratch namespace. The answer is cached for the life of the process.
func (f Feature) Probe() error {
	v, _ := probeCache.LoadOrStore(f, &probeResult{})
	r := v.(*probeResult)
	r.once.Do(func() {
		// A probe that hangs (say, a kernel waiting on a module request)
		// must not hang the run: it is an error, not a missing feature.
		done := make(chan error, 1)
		go func() { done <- f.probe() }()
		select {
		case r.err = <-done:
		case <-time.After(probeTimeout):
			r.err = fmt.Errorf("probe %s: no answer from the kernel within %v", f, probeTimeout)
		}
	})
	return r.err
}

// probeTimeout bounds one feature probe.
const probeTimeout = 20 * time.Second

func (f Feature) probe() error {
	d, ok := featureDefs[f]
	if !ok {
		return fmt.Errorf("probe %s: unknown feature", f)
	}
	if d.host != nil {
		return d.host()
	}
	ns, err := nsx.New(nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", f, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("probe %s: %w", f, err)
	}
	defer h.Close()
	err = d.try(ns, h)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EAFNOSUPPORT) ||
		errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("%s: %w: %s failed in a scratch namespace: %v", f, ErrNotSupported, d.what, err)
	}
	return fmt.Errorf("probe %s: %s: %w", f, d.what, err)
}
