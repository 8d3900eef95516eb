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

// Feature is a kernel feature a scenario may need.
type Feature string

// The features vtest can probe.
const (
	FeatureVeth       Feature = "veth"
	FeatureBridge     Feature = "bridge"
	FeatureNetem      Feature = "netem"      // sch_netem: delay, loss
	FeatureTBF        Feature = "tbf"        // sch_tbf: rate limits
	FeatureHTB        Feature = "htb"        // sch_htb
	FeatureRED        Feature = "red"        // sch_red: RED queues, ECN marking
	FeatureVLAN       Feature = "vlan"       // 8021q
	FeatureVXLAN      Feature = "vxlan"      // vxlan
	FeatureVRF        Feature = "vrf"        // vrf
	FeatureDummy      Feature = "dummy"      // dummy
	FeatureMacvlan    Feature = "macvlan"    // macvlan
	FeatureMasquerade Feature = "masquerade" // nf_tables NAT with masquerade
	FeatureNAT        Feature = "nat"        // nf_tables SNAT/DNAT (nft_nat)
	FeatureNFTables   Feature = "nftables"   // nf_tables inet filter with reject (firewall)
	FeatureIPv6       Feature = "ipv6"
)

// AllFeatures lists every feature vtest can probe.
var AllFeatures = []Feature{FeatureVeth, FeatureBridge, FeatureNetem, FeatureTBF, FeatureHTB, FeatureRED,
	FeatureVLAN, FeatureVXLAN, FeatureVRF, FeatureDummy, FeatureMacvlan, FeatureMasquerade, FeatureNAT, FeatureNFTables, FeatureIPv6}

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
	if f == FeatureIPv6 {
		if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
			return fmt.Errorf("ipv6: %w: this kernel has no IPv6 (/proc/sys/net/ipv6 is missing)", ErrNotSupported)
		}
		return nil
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
	what, err := f.try(ns, h)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EAFNOSUPPORT) ||
		errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("%s: %w: %s failed in a scratch namespace: %v", f, ErrNotSupported, what, err)
	}
	return fmt.Errorf("probe %s: %s: %w", f, what, err)
}

func (f Feature) try(ns netns.NsHandle, h *netlink.Handle) (string, error) {
	veth := func() (netlink.Link, error) {
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, PeerName: "probe1"}
		return v, h.LinkAdd(v)
	}
	qdisc := func(q netlink.Qdisc) error { return h.QdiscAdd(q) }
	root := netlink.QdiscAttrs{LinkIndex: 1, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT}
	switch f {
	case FeatureVeth:
		_, err := veth()
		return "creating a veth pair", err
	case FeatureBridge:
		return "creating a bridge", h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}})
	case FeatureDummy:
		return "creating a dummy link (module dummy)", h.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}})
	case FeatureVRF:
		return "creating a vrf link (module vrf)", h.LinkAdd(&netlink.Vrf{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, Table: 10})
	case FeatureVXLAN:
		return "creating a vxlan link (module vxlan)", h.LinkAdd(&netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, VxlanId: 42, Port: 4789})
	case FeatureVLAN, FeatureMacvlan:
		parent, err := veth()
		if err != nil {
			return "creating a veth parent", err
		}
		if f == FeatureVLAN {
			return "creating an 802.1q link (module 8021q)", h.LinkAdd(&netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: "probe2", ParentIndex: parent.Attrs().Index}, VlanId: 10})
		}
		return "creating a macvlan link (module macvlan)", h.LinkAdd(&netlink.Macvlan{LinkAttrs: netlink.LinkAttrs{Name: "probe2", ParentIndex: parent.Attrs().Index}, Mode: netlink.MACVLAN_MODE_BRIDGE})
	case FeatureNetem:
		return "adding a netem qdisc (module sch_netem)", qdisc(netlink.NewNetem(root, netlink.NetemQdiscAttrs{Latency: 1000}))
	case FeatureTBF:
		return "adding a tbf qdisc (module sch_tbf)", qdisc(&netlink.Tbf{QdiscAttrs: root, Rate: 1 << 20, Limit: 1 << 16, Buffer: 1 << 14})
	case FeatureHTB:
		return "adding an htb qdisc (module sch_htb)", qdisc(netlink.NewHtb(root))
	case FeatureRED:
		return "adding a red qdisc with ecn (module sch_red)", nsx.Do(ns, func() error {
			return addREDAt(1, netlink.HANDLE_ROOT, netlink.MakeHandle(1, 0), RED{Max: 30000, ECN: true}, 1<<20)
		})
	case FeatureMasquerade:
		return "adding an nftables masquerade rule (nf_tables, nft_masq)", installMasquerade(ns, "probe0")
	case FeatureNAT:
		return "adding an nftables DNAT rule (nf_tables, nft_nat)", probeNAT(ns)
	case FeatureNFTables:
		return "adding an nftables filter rule with reject (nf_tables, nft_reject_inet)", probeFirewall(ns)
	}
	if p, ok := kindProbes[f]; ok {
		return p.what, p.try(ns, h)
	}
	return "", fmt.Errorf("unknown feature %q", f)
}

// kindProbe is how a link kind's file teaches Probe a feature of its own.
type kindProbe struct {
	what string
	try  func(ns netns.NsHandle, h *netlink.Handle) error
}

// kindProbes holds the probes registered by the kind files (at init, never
// changed afterwards).
var kindProbes = map[Feature]kindProbe{}

// registerProbe adds a feature probed by trying what in a scratch
// namespace. Only init functions call it.
func registerProbe(f Feature, what string, try func(ns netns.NsHandle, h *netlink.Handle) error) {
	kindProbes[f] = kindProbe{what: what, try: try}
	AllFeatures = append(AllFeatures, f)
}
