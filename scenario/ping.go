package scenario

import (
	"fmt"
	"slices"

	"github.com/vtest-dev/vtest/internal/nsx"
)

// pingGroupRange governs who may open ICMP datagram ("ping") sockets, for
// IPv4 and IPv6 alike. A new namespace starts with "1 0": nobody, root
// included.
const pingGroupRange = "net.ipv4.ping_group_range"

// pingGroupAll lets every group open ping sockets.
const pingGroupAll = "0 2147483647"

// openPing lets every group open ping sockets in the node, once. A node
// gets it when it is first needed, which no one can tell from having it
// from the start: before vtest opens a ping socket there, before foreign
// code runs there (Do, a process, NamespaceFd), and before Node.Sysctl
// reads it. Not at build: a sysctl write costs the kernel a lookup along a
// hash chain as long as the host has namespaces (60 µs at 50, 250 µs at
// 1000), and most nodes of a large scenario never send a ping. A value the
// scenario sets itself (NodeSpec.Sysctl, Node.SetSysctl) wins.
func (nd *Node) openPing() error {
	if nd.pingOpen.Load() {
		return nil
	}
	nd.pingMu.Lock()
	defer nd.pingMu.Unlock()
	if nd.pingOpen.Load() {
		return nil
	}
	if err := nd.do(func() error { return nsx.WriteSysctl(pingGroupRange, pingGroupAll) }); err != nil {
		return fmt.Errorf("node %q: let ping sockets open: %w", nd.name, err)
	}
	nd.pingOpen.Store(true)
	return nil
}

// setsPingGroup reports whether a node's own sysctls set ping_group_range.
func setsPingGroup(sysctls [][2]string) bool {
	return slices.ContainsFunc(sysctls, func(kv [2]string) bool { return kv[0] == pingGroupRange })
}
