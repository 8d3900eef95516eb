package scenario

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/internal/nsx"
)

func init() {
	inside.Register(func(node any, fn func() error) error { return node.(*Node).doUsed(fn) },
		func(node any) int {
			nd := node.(*Node)
			_ = nd.useNeighbours()
			return int(nd.ns)
		},
		func(node any) error {
			nd := node.(*Node)
			if err := nd.useNeighbours(); err != nil {
				return err
			}
			return nd.openPing()
		},
		func(node any) error { return node.(*Node).useNeighbours() })
}

// Name returns the node's name.
func (nd *Node) Name() string { return nd.name }

// Network returns the network the node belongs to.
func (nd *Node) Network() *Network { return nd.net }

// Role returns the node's role.
func (nd *Node) Role() Role { return nd.kind }

// Interfaces returns the node's interfaces (a switch's bridge first).
func (nd *Node) Interfaces() []*Interface { return nd.ifaces }

// Interface returns the interface called name, or nil.
func (nd *Node) Interface(name string) *Interface {
	for _, i := range nd.ifaces {
		if i.Name == name {
			return i
		}
	}
	return nil
}

// IPv4 returns the node's first IPv4 address, or the zero Addr.
func (nd *Node) IPv4() netip.Addr { return nd.firstAddr(true) }

// IPv6 returns the node's first global IPv6 address, or the zero Addr.
func (nd *Node) IPv6() netip.Addr { return nd.firstAddr(false) }

func (nd *Node) firstAddr(v4 bool) netip.Addr {
	for _, i := range nd.ifaces {
		for _, a := range i.Addrs {
			if a.Addr().Is4() == v4 {
				return a.Addr()
			}
		}
	}
	return netip.Addr{}
}

// AddrFor returns the address nd reaches node to by, in the family asked
// for (IPv6 when v6): to's address on a segment the two share, else to's
// first address of that family.
func (nd *Node) AddrFor(to *Node, v6 bool) (netip.Addr, error) {
	for _, ifc := range nd.ifaces {
		for _, a := range ifc.Addrs {
			if a.Addr().Is6() != v6 {
				continue
			}
			if shared := to.AddrOn(a.Addr()); shared.IsValid() && shared != a.Addr() {
				return shared, nil
			}
		}
	}
	a := to.IPv4()
	family := "IPv4"
	if v6 {
		a, family = to.IPv6(), "IPv6"
	}
	if !a.IsValid() {
		return a, fmt.Errorf("node %q has no %s address", to.name, family)
	}
	return a, nil
}

// AddrOn returns the node's address of the same family as peer on the
// segment it shares with peer, or the zero Addr. Use it to find which of a
// multi-homed node's addresses a neighbour talks to.
func (nd *Node) AddrOn(peer netip.Addr) netip.Addr {
	for _, i := range nd.ifaces {
		for _, a := range i.Addrs {
			if a.Contains(peer) && a.Addr().Is4() == peer.Is4() {
				return a.Addr()
			}
		}
	}
	return netip.Addr{}
}

// Netlink returns the node's netlink handle (NETLINK_ROUTE, bound to the
// node's namespace). It belongs to the node: do not close it. When the
// scenario pre-installs its neighbours, the node's entries are in before
// the handle is returned (see Spec.PreinstallNeighbours).
func (nd *Node) Netlink() *netlink.Handle {
	// Should that fail, the node's next use that returns an error says
	// why (the entries are tried again).
	_ = nd.useNeighbours()
	return nd.nl
}

// NamespaceFd returns the file descriptor of the node's namespace, for
// libraries that take one (nftables.WithNetNSFd). It belongs to the node.
// Whoever holds it may start processes in the namespace (nsenter through
// /proc/PID/fd/N), so teardown then looks for processes to kill there
// (see Do).
//
// If the process guard cannot be started, NamespaceFd still returns the
// descriptor: teardown kills the processes, a killed vtest may not.
func (nd *Node) NamespaceFd() int {
	_ = nd.markForeign()
	return int(nd.ns)
}

// Do runs fn on an OS thread inside the node's namespace and waits for it.
// Sockets fn opens stay in the namespace; goroutines fn starts do not.
// A panic in fn is returned as an error.
//
// Pitfall: code that dials from another goroutine runs in the host's
// namespace, not the node's. net/http is such code: an http.Client.Get
// called inside Do dials from a goroutine of the transport and may reach a
// server outside the scenario. Use Dial, Listen, ListenPacket and
// HTTPClient instead: their sockets are created inside the node and work
// from any goroutine.
//
// fn may start processes (exec.Command), which then live in the node's
// namespace: teardown kills every process of the namespace of a node whose
// Do was called, found by a scan of /proc (also daemons that left their
// parent). vtest's own checks, Dial, Listen, ListenPacket, HTTPClient,
// Sysctl and SetSysctl open sockets or write sysctls inside the node
// without Do, and spare teardown that scan. If this process dies without a
// teardown (SIGKILL), a process guard kills them: the first Do, Cmd or
// NamespaceFd of a node hands its namespace to the guard, a copy of this
// binary started once per process; Do returns an error if it cannot be
// started.
func (nd *Node) Do(fn func() error) error {
	// markForeign readies the node for use too.
	if err := nd.markForeign(); err != nil {
		return err
	}
	return nd.do(fn)
}

// doUsed is do for code that acts in the node after its build: the node's
// pre-installed neighbours are in first (see PreinstallNeighbours).
func (nd *Node) doUsed(fn func() error) error {
	if err := nd.useNeighbours(); err != nil {
		return err
	}
	return nd.do(fn)
}

// do is Do for vtest's own code, which never starts a process: it does not
// mark the node for the teardown's process scan.
func (nd *Node) do(fn func() error) error {
	if !nd.ns.IsOpen() {
		return fmt.Errorf("node %q: network is closed", nd.name)
	}
	if err := nsx.Do(nd.ns, fn); err != nil {
		return fmt.Errorf("node %q: %w", nd.name, err)
	}
	return nil
}

// Sysctl reads a network sysctl in the node's namespace.
func (nd *Node) Sysctl(name string) (string, error) {
	if name == pingGroupRange {
		if err := nd.openPing(); err != nil {
			return "", err
		}
	}
	var v string
	err := nd.do(func() (err error) {
		v, err = nsx.ReadSysctl(name)
		return err
	})
	return v, err
}

// SetSysctl writes a network sysctl in the node's namespace.
func (nd *Node) SetSysctl(name, value string) error {
	ping := name == pingGroupRange
	if ping {
		// The caller's value wins over the one vtest would write later.
		nd.pingMu.Lock()
		defer nd.pingMu.Unlock()
	}
	if isForwarding(name) && value != "0" {
		// A node that forwards has its neighbours from the build on.
		if err := nd.useNeighbours(); err != nil {
			return err
		}
	}
	err := nd.do(func() error { return nsx.WriteSysctl(name, value) })
	if ping && err == nil {
		nd.pingOpen.Store(true)
	}
	return err
}
