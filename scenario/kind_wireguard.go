package scenario

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// FeatureWireGuard is the in-kernel WireGuard driver (module wireguard).
const FeatureWireGuard Feature = "wireguard"

var _ = defineFeature(FeatureWireGuard, featureDef{
	what: "creating a wireguard link (module wireguard)",
	try: func(_ netns.NsHandle, h *netlink.Handle) error {
		return h.LinkAdd(&netlink.Wireguard{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}})
	},
	kconfig: []string{"CONFIG_WIREGUARD"},
	modules: []string{"wireguard"},
})

// WireGuard is a WireGuard interface with one peer: the WireGuard interface
// Peer ("node:iface") of another node. vtest generates both key pairs in Go
// at build time; each side's endpoint is the other node's address on a
// segment they share (or Endpoint), and each side allows the peer's
// interface addresses.
type WireGuard struct {
	Peer string
	// Port is the UDP port the interface listens on (default 51820).
	Port int
	// Endpoint is the peer's underlay address, when the nodes share no
	// segment (a routed underlay).
	Endpoint string
}

// wgPlan holds what validation resolves: keys and the peer.
type wgPlan struct {
	key      wgtypes.Key
	peer     *planIface
	endpoint netip.Addr
}

func (WireGuard) kindName() string   { return "wireguard" }
func (w WireGuard) peerName() string { return w.Peer }
func (WireGuard) feature() Feature   { return FeatureWireGuard }
func (WireGuard) framing() Framing   { return FramingIP } // IP packets, no link-layer header

func (w WireGuard) port() int {
	if w.Port == 0 {
		return 51820
	}
	return w.Port
}

func (w WireGuard) describe(*IfaceSpec) string {
	return fmt.Sprintf("wireguard port %d peer %s", w.port(), w.Peer)
}

func (w WireGuard) check(c *kindCheck) {
	if w.Port < 0 || w.Port > 65535 {
		c.fail("port %d is out of range", "use 0 (51820) or 1..65535", w.Port)
	}
	wp := &wgPlan{}
	c.iface.data = wp
	if !strings.Contains(w.Peer, ":") {
		c.fail("peer %q is not node:interface", `name the peer's WireGuard interface, like "b:wg0"`, w.Peer)
		return
	}
	wp.peer = c.ref(w.Peer, "peer")
	if wp.peer == nil {
		return
	}
	if _, ok := wp.peer.kind.(WireGuard); !ok {
		c.fail("peer %q is not a WireGuard interface", "name the peer's WireGuard interface", w.Peer)
		return
	}
	if wp.peer.node == c.node {
		c.fail("peer %q is on the same node", "put the peer on another node", w.Peer)
	}
	if w.Endpoint != "" {
		wp.endpoint, _ = c.addr(w.Endpoint, "endpoint")
	}
	key, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		c.fail("generating a key: %v", "", err)
	}
	wp.key = key
}

// checkAddrs resolves the endpoint once addresses are allocated.
func (w WireGuard) checkAddrs(c *kindCheck) {
	wp := c.iface.data.(*wgPlan)
	if wp.peer == nil || wp.endpoint.IsValid() {
		return
	}
	// The peer's address on a segment the two nodes share, not one of
	// the tunnel's own.
	var underlay []netip.Prefix
	for _, i := range c.node.ifaces {
		if i != c.iface {
			for _, a := range i.addrs {
				underlay = append(underlay, a.Masked())
			}
		}
	}
	for _, i := range wp.peer.node.ifaces {
		for _, a := range i.addrs {
			if i != wp.peer && inAny(underlay, a.Addr()) {
				wp.endpoint = a.Addr()
				return
			}
		}
	}
	c.fail("node %q shares no segment with the peer's node %q", "link the two nodes, or set Endpoint to the peer's routed underlay address", c.node.spec.name, wp.peer.node.spec.name)
}

func (w WireGuard) newLink(b *kindBuild) (netlink.Link, error) {
	return &netlink.Wireguard{LinkAttrs: b.attrs}, nil
}

// configure sets the private key, the port and the peer (its public key,
// endpoint and addresses), through the wireguard generic netlink family
// opened inside the node.
func (w WireGuard) configure(b *kindBuild, l netlink.Link) error {
	wp := b.iface.data.(*wgPlan)
	peer := wp.peer.data.(*wgPlan)
	var peerWG WireGuard
	peerWG, _ = wp.peer.kind.(WireGuard)
	var allowed []net.IPNet
	for _, a := range wp.peer.addrs {
		allowed = append(allowed, *ipNet(netip.PrefixFrom(a.Addr(), a.Addr().BitLen())))
	}
	port := w.port()
	cfg := wgtypes.Config{
		PrivateKey: &wp.key,
		ListenPort: &port,
		Peers: []wgtypes.PeerConfig{{
			PublicKey:  peer.key.PublicKey(),
			Endpoint:   &net.UDPAddr{IP: wp.endpoint.AsSlice(), Port: peerWG.port()},
			AllowedIPs: allowed,
		}},
	}
	return b.node.do(func() error {
		c, err := wgctrl.New()
		if err != nil {
			return err
		}
		defer c.Close()
		return c.ConfigureDevice(l.Attrs().Name, cfg)
	})
}
