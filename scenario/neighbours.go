package scenario

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/nsx"
)

// The kernel keeps one ARP and one NDP table for every namespace of the
// host, and refuses new entries beyond the initial namespace's
// net.ipv{4,6}.neigh.default.gc_thresh3 (1024 by default), evicting none
// younger than 5 s. Permanent entries do not count: neigh_add creates an
// entry whose state has NUD_PERMANENT with exempt_from_gc set, and
// neigh_alloc skips the gc_entries count and the thresholds for it
// (net/core/neighbour.c, since Linux 5.0). vtest knows every address and
// MAC it creates, so a scenario that resolves more neighbours than the
// table holds may have them installed, permanent.

// PreinstallNeighbours gives every interface with addresses a permanent
// neighbour entry (ARP for IPv4, NDP for IPv6) for every address of every
// other interface on its layer-2 segment (a link, or a switch with all its
// ports and its bridge's addresses), as if they had been installed at
// build. Permanent entries are exempt from the kernel's neighbour table
// limit (gc_thresh3, shared by every namespace of the host), so scenarios
// with thousands of hosts run on a host with default settings. Off by
// default: with it, address resolution (ARP, NDP) is never exercised, and
// the evidence of reach checks says so. A segment of n interfaces costs up
// to n(n−1) entries of kernel memory (about 0.5 KiB each).
//
// A node's entries (its own for its neighbours, and its neighbours' for
// it) are installed when it is first used: before vtest's checks send from
// it, listen in it or read its kernel state (Netlink, the inside of a
// check, DumpState), before foreign code runs there (Do, Command,
// NamespaceFd), before a built-in step that names it acts (LinkDown,
// AddRoute, …), and before SetSysctl turns forwarding on. A node that may
// forward has them at build: a router, a node whose sysctls turn
// forwarding on, a node on more than one segment. A node sends only if it
// was used, forwards, or answers a node that was used or forwards (whose
// entry it then has; a crafted frame's source address counts as a use of
// its node), so no packet, and no read of a table, can tell this from
// having every entry from the start; a star of 1000 hosts whose checks all
// start at h1 costs 2000 entries instead of a million. The use that would
// make a tenth of the nodes used one at a time brings every node's entries
// in at once instead, and so does the first use in a scenario of at most
// ten nodes: per entry, a batch in one namespace costs a tenth of an entry
// sent into each neighbour's. The entries are the kernel's from then on:
// an interface set administratively down loses its own, permanent ones
// too (as static entries an administrator adds do), and resolves its
// neighbours by ARP or NDP once it is up again.
//
// Every switch also learns, at build, the MAC of each interface with
// addresses plugged into one of its ports: a dynamic FDB entry on that
// port, as if the host had sent a frame (it ages and moves like a learned
// one; assert.FDBEntry reports it as learned). Without it, a star's first
// frame to each host would be flooded to every port, since no host has
// sent anything yet. A host behind another switch of the segment is not
// pre-learned (its first frame is flooded, as without the option).
//
// There is no variant that pre-installs and then checks each pair with a
// real ARP exchange: with a permanent entry in place the kernel never
// resolves that address again, so such a check could only test the
// target's answer to a request of its own, which assert.ARPAnswered already
// does. Add it for the pairs that matter (it costs one exchange each, and
// its evidence says that the kernel's resolution was not exercised).
func (s *Spec) PreinstallNeighbours() *Spec {
	s.neighbours = true
	return s
}

// NeighboursPreinstalled reports whether PreinstallNeighbours was called.
func (s *Spec) NeighboursPreinstalled() bool { return s.neighbours }

// segmentEnd is an interface with addresses on a segment, once built.
type segmentEnd struct {
	node  *Node
	index int
	mac   net.HardwareAddr
	addrs []netip.Prefix
}

// endOn is one of a node's ends and every end of its segment (itself
// included).
type endOn struct {
	end segmentEnd
	seg []segmentEnd
}

// neighbourSet is what PreinstallNeighbours installs, and how much of it
// is in. The entry of end e for the addresses of end f is in once e's
// node has its row in (its entries for its neighbours) or f's node has
// its column in (its neighbours' entries for it).
type neighbourSet struct {
	mu     sync.Mutex
	ends   map[*Node][]endOn
	row    map[*Node]bool
	column map[*Node]bool // the nodes used one at a time
}

// preinstallNeighbours is the build step of PreinstallNeighbours: it reads
// each segment's MACs (recorded by waitUp, read back for the rest), teaches
// each switch its hosts' MACs, and installs the entries of the nodes that
// may forward; every other node's wait for its first use (see useNeighbours).
func (n *Network) preinstallNeighbours(ctx context.Context) error {
	if !n.spec.neighbours {
		return nil
	}
	built := map[*planIface]*Interface{}
	for _, nd := range n.order {
		for _, ifc := range nd.ifaces {
			if ifc.plan != nil {
				built[ifc.plan] = ifc
			}
		}
	}
	set := &neighbourSet{ends: map[*Node][]endOn{}, row: map[*Node]bool{}, column: map[*Node]bool{}}
	segsOf := map[*Node]int{}
	for _, sg := range n.plan.segments {
		var ends []segmentEnd
		for _, m := range sg.members {
			ifc := built[m]
			if ifc == nil || len(ifc.Addrs) == 0 {
				continue
			}
			nd := n.nodes[m.node.spec.name]
			if err := nd.readMAC(ifc); err != nil {
				return err
			}
			ends = append(ends, segmentEnd{node: nd, index: ifc.Index, mac: ifc.MAC, addrs: ifc.Addrs})
		}
		for _, b := range sg.bridges {
			nd := n.nodes[b.spec.name]
			if nd.bridge == nil || len(nd.bridge.Addrs) == 0 {
				continue
			}
			// Read after every port was added: a bridge takes the
			// lowest MAC of its ports unless one was set.
			if err := nd.readMAC(nd.bridge); err != nil {
				return err
			}
			ends = append(ends, segmentEnd{node: nd, index: nd.bridge.Index, mac: nd.bridge.MAC, addrs: nd.bridge.Addrs})
		}
		seen := map[*Node]bool{}
		for _, e := range ends {
			set.ends[e.node] = append(set.ends[e.node], endOn{end: e, seg: ends})
			if !seen[e.node] {
				seen[e.node] = true
				segsOf[e.node]++
			}
		}
	}
	fdb, err := n.switchPorts(built)
	if err != nil {
		return err
	}
	err = eachNode(ctx, n.order, func(nd *Node) error {
		ports := fdb[nd]
		if len(ports) == 0 {
			return nil
		}
		return nd.addNeighbours(func(add func(index int, ip netip.Addr, mac net.HardwareAddr) error) error {
			for _, e := range ports {
				if err := add(e.index, netip.Addr{}, e.mac); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for nd := range set.ends {
		nd.neighboursDue.Store(true)
	}
	n.neighbours = set
	for _, pn := range n.plan.nodes {
		nd := n.nodes[pn.spec.name]
		if set.ends[nd] != nil && (segsOf[nd] > 1 || forwards(pn.spec)) {
			if err := n.useNeighbours(ctx, nd); err != nil {
				return err
			}
		}
	}
	return nil
}

// useNeighbours readies the node for its first use when its neighbours
// are pre-installed (see PreinstallNeighbours).
func (nd *Node) useNeighbours() error {
	if !nd.neighboursDue.Load() {
		return nil
	}
	if err := nd.net.useNeighbours(context.Background(), nd); err != nil {
		return fmt.Errorf("node %q: pre-install its neighbours: %w", nd.name, err)
	}
	return nil
}

// useNodesOf readies for use (see PreinstallNeighbours) the nodes a
// built-in action names: a step acts in them (sets an interface down,
// adds a route) as a check does, so their entries go in first, and what
// the step does to them (an interface set down flushes its entries) is
// what it would do to entries installed at build. A StepFunc's code acts
// through the nodes' methods, each a use already.
func (n *Network) useNodesOf(a Action) error {
	va, ok := a.(validatable)
	if !ok || n.neighbours == nil {
		return nil
	}
	v := &validator{s: n.spec, direct: true}
	va.validate(v, n.plan, "")
	for _, name := range v.named {
		if nd, ok := n.nodes[name]; ok {
			if err := nd.useNeighbours(); err != nil {
				return fmt.Errorf("%s: %w", a, err)
			}
		}
	}
	return nil
}

// forwards reports whether a node may forward packets: a router, or a node
// whose own sysctls turn forwarding on.
func forwards(ns *NodeSpec) bool {
	if ns.kind == RoleRouter {
		return true
	}
	for name, v := range ns.sysctls {
		if isForwarding(name) && v != "0" {
			return true
		}
	}
	return false
}

// isForwarding reports whether a sysctl turns forwarding on or off.
func isForwarding(name string) bool {
	return name == "net.ipv4.ip_forward" || strings.HasSuffix(name, ".forwarding")
}

// useNeighbours installs the node's share of PreinstallNeighbours before
// its first use (see there): its entries for its neighbours, in one batch
// in its namespace, and its neighbours' entries for it, one in each of
// theirs. The use that would make a tenth of the nodes used that way
// brings every node's entries in at once instead, a batch in each
// namespace.
func (n *Network) useNeighbours(ctx context.Context, nd *Node) error {
	if !nd.neighboursDue.Load() {
		return nil
	}
	set := n.neighbours
	set.mu.Lock()
	defer set.mu.Unlock()
	if !nd.neighboursDue.Load() {
		return nil
	}
	if 10*(len(set.column)+1) >= len(set.ends) {
		return set.installAll(ctx, n.order)
	}
	if err := set.installRow(nd); err != nil {
		return err
	}
	set.row[nd] = true
	if err := set.installColumn(ctx, nd); err != nil {
		return err
	}
	set.column[nd] = true
	nd.neighboursDue.Store(false)
	return nil
}

// installAll installs every row not yet in, the nodes in parallel.
func (set *neighbourSet) installAll(ctx context.Context, order []*Node) error {
	var due []*Node
	for _, nd := range order {
		if set.ends[nd] != nil && !set.row[nd] {
			due = append(due, nd)
		}
	}
	if err := eachNode(ctx, due, set.installRow); err != nil {
		return err
	}
	for _, nd := range due {
		set.row[nd] = true
	}
	for nd := range set.ends {
		nd.neighboursDue.Store(false)
	}
	return nil
}

// installRow installs, in one batch, the node's entries for the addresses
// of every other end of its segments, but those whose node has its column
// in.
func (set *neighbourSet) installRow(nd *Node) error {
	return nd.addNeighbours(func(add func(index int, ip netip.Addr, mac net.HardwareAddr) error) error {
		for _, o := range set.ends[nd] {
			for _, of := range o.seg {
				if of.index == o.end.index && of.node == nd || set.column[of.node] {
					continue
				}
				for _, a := range of.addrs {
					if !resolvable(o.end.addrs, a.Addr()) {
						continue
					}
					if err := add(o.end.index, a.Addr(), of.mac); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

// installColumn installs, in the namespace of each other node of its
// segments whose row is not in, that node's entries for the node's
// addresses, the nodes in parallel.
func (set *neighbourSet) installColumn(ctx context.Context, nd *Node) error {
	type entry struct {
		index int
		ip    netip.Addr
		mac   net.HardwareAddr
	}
	of := map[*Node][]entry{}
	var peers []*Node
	for _, o := range set.ends[nd] {
		for _, e := range o.seg {
			if e.node == nd || set.row[e.node] {
				continue
			}
			for _, a := range o.end.addrs {
				if !resolvable(e.addrs, a.Addr()) {
					continue
				}
				if of[e.node] == nil {
					peers = append(peers, e.node)
				}
				of[e.node] = append(of[e.node], entry{e.index, a.Addr(), o.end.mac})
			}
		}
	}
	return eachNode(ctx, peers, func(peer *Node) error {
		for _, e := range of[peer] {
			fam := unix.AF_INET
			if e.ip.Is6() {
				fam = unix.AF_INET6
			}
			ne := &netlink.Neigh{LinkIndex: e.index, Family: fam, State: unix.NUD_PERMANENT, IP: e.ip.AsSlice(), HardwareAddr: e.mac}
			if err := peer.nl.NeighSet(ne); err != nil {
				return fmt.Errorf("node %q: add permanent neighbour %s lladdr %s on interface %d: %w", peer.name, e.ip, e.mac, e.index, err)
			}
		}
		return nil
	})
}

// eachNode runs fn for every node, in parallel (see inParallel).
func eachNode(ctx context.Context, nodes []*Node, fn func(*Node) error) error {
	return inParallel(ctx, len(nodes), func(i int) error { return fn(nodes[i]) })
}

// switchPorts lists, for every switch, its ports whose veth peer is an
// interface with addresses, and that interface's MAC: the FDB entries
// PreinstallNeighbours adds.
func (n *Network) switchPorts(built map[*planIface]*Interface) (map[*Node][]segmentEnd, error) {
	out := map[*Node][]segmentEnd{}
	for _, nd := range n.order {
		if nd.bridge == nil {
			continue
		}
		for _, ifc := range nd.ifaces {
			// A plain veth end of the switch is a port of its bridge.
			if ifc.plan == nil || ifc.plan.link == nil || ifc.plan.master != nil || ifc.plan.spec != nil || ifc.plan.peer == nil {
				continue
			}
			peer := built[ifc.plan.peer]
			if peer == nil || len(peer.Addrs) == 0 || ifc.plan.peer.l2 {
				continue
			}
			if err := n.nodes[ifc.plan.peer.node.spec.name].readMAC(peer); err != nil {
				return nil, err
			}
			out[nd] = append(out[nd], segmentEnd{node: nd, index: ifc.Index, mac: peer.MAC})
		}
	}
	return out, nil
}

// resolvable reports whether an interface with addrs resolves a: a is not
// link-local, and the interface has a (not link-local) address of its
// family.
func resolvable(addrs []netip.Prefix, a netip.Addr) bool {
	if a.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range addrs {
		if p.Addr().Is4() == a.Is4() && !p.Addr().IsLinkLocalUnicast() {
			return true
		}
	}
	return false
}

// readMAC reads an interface's MAC if waitUp did not record it.
func (nd *Node) readMAC(ifc *Interface) error {
	if ifc.MAC != nil {
		return nil
	}
	l, err := nd.nl.LinkByIndex(ifc.Index)
	if err != nil {
		return fmt.Errorf("node %q: read the MAC of %q: %w", nd.name, ifc.Name, err)
	}
	ifc.MAC = l.Attrs().HardwareAddr
	return nil
}

// neighbourBatch is how many requests go to the kernel in one write: each
// is at most 64 bytes, and only a failed one is answered (but the last),
// well within a netlink socket's buffers.
const neighbourBatch = 1024

// neighbourSender sends RTM_NEWNEIGH requests on a netlink socket of a
// node's namespace, neighbourBatch per write, and checks every answer.
type neighbourSender struct {
	fd     int
	seq    uint32
	buf    []byte
	last   int               // offset of the last request in buf
	queued []queuedNeighbour // of the batch in buf, for errors
	answer []byte
}

// queuedNeighbour is an entry sent and not yet answered.
type queuedNeighbour struct {
	index int
	ip    netip.Addr
	mac   net.HardwareAddr
}

// addNeighbours installs, in the node's namespace, the permanent entries
// (and FDB entries, for a zero IP) that each calls add with, and returns when the kernel has answered every
// one.
func (nd *Node) addNeighbours(each func(add func(index int, ip netip.Addr, mac net.HardwareAddr) error) error) error {
	return nd.do(func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("open netlink socket: %w", err)
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fmt.Errorf("bind netlink socket: %w", err)
		}
		s := &neighbourSender{fd: fd, buf: make([]byte, 0, neighbourBatch*64), queued: make([]queuedNeighbour, 0, neighbourBatch), answer: make([]byte, 1<<16)}
		if err := each(s.add); err != nil {
			return err
		}
		return s.flush()
	})
}

// add queues the request of `ip neigh replace IP lladdr MAC dev INDEX nud
// permanent`, or, when ip is the zero Addr, of `bridge fdb replace MAC dev
// INDEX master dynamic` (INDEX a bridge port), and sends the queue when it
// is full.
func (s *neighbourSender) add(index int, ip netip.Addr, mac net.HardwareAddr) error {
	fam, state, flags := uint8(unix.AF_INET), uint16(unix.NUD_PERMANENT), uint8(0)
	switch {
	case !ip.IsValid():
		// NUD_REACHABLE without NUD_NOARP: a dynamic entry, which ages
		// and moves like a learned one.
		fam, state, flags = unix.AF_BRIDGE, unix.NUD_REACHABLE, unix.NTF_MASTER
	case ip.Is6():
		fam = unix.AF_INET6
	}
	attr := func(b []byte, typ uint16, v []byte) []byte {
		b = binary.NativeEndian.AppendUint16(b, uint16(unix.SizeofRtAttr+len(v)))
		b = binary.NativeEndian.AppendUint16(b, typ)
		b = append(b, v...)
		for len(b)%unix.NLMSG_ALIGNTO != 0 {
			b = append(b, 0)
		}
		return b
	}
	s.seq++
	start := len(s.buf)
	b := binary.NativeEndian.AppendUint32(s.buf, 0) // length, below
	b = binary.NativeEndian.AppendUint16(b, unix.RTM_NEWNEIGH)
	// No NLM_F_ACK: the kernel answers a failed request anyway, and
	// flush asks for the last one's answer, which comes after every other.
	b = binary.NativeEndian.AppendUint16(b, unix.NLM_F_REQUEST|unix.NLM_F_CREATE|unix.NLM_F_REPLACE)
	b = binary.NativeEndian.AppendUint32(b, s.seq)
	b = binary.NativeEndian.AppendUint32(b, 0) // pid: the kernel's
	// struct ndmsg: family, 3 bytes of padding, ifindex, state, flags, type.
	b = append(b, fam, 0, 0, 0)
	b = binary.NativeEndian.AppendUint32(b, uint32(index))
	b = binary.NativeEndian.AppendUint16(b, state)
	b = append(b, flags, 0)
	if ip.IsValid() {
		b = attr(b, unix.NDA_DST, ip.AsSlice())
	}
	b = attr(b, unix.NDA_LLADDR, mac)
	binary.NativeEndian.PutUint32(b[start:], uint32(len(b)-start))
	s.buf = b
	s.last = start
	s.queued = append(s.queued, queuedNeighbour{index, ip, mac})
	if len(s.queued) == neighbourBatch {
		return s.flush()
	}
	return nil
}

// flush sends the queued requests, the last one asking for an answer, and
// reads the kernel's answers until that one: rtnetlink handles the
// requests of one write in order, and answers only those that failed.
func (s *neighbourSender) flush() error {
	if len(s.queued) == 0 {
		return nil
	}
	flags := s.buf[s.last+6:]
	binary.NativeEndian.PutUint16(flags, binary.NativeEndian.Uint16(flags)|unix.NLM_F_ACK)
	if err := unix.Sendto(s.fd, s.buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send %d neighbour entries: %w", len(s.queued), err)
	}
	first := s.seq - uint32(len(s.queued)) + 1
	var failed error
	for done := false; !done; {
		k, _, err := unix.Recvfrom(s.fd, s.answer, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("read the answers to neighbour entries: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(s.answer[:k])
		if err != nil {
			return fmt.Errorf("parse the answers to neighbour entries: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR || m.Header.Seq < first || m.Header.Seq > s.seq || len(m.Data) < 4 {
				continue
			}
			done = done || m.Header.Seq == s.seq
			if code := int32(binary.NativeEndian.Uint32(m.Data[:4])); code != 0 && failed == nil {
				q := s.queued[m.Header.Seq-first]
				failed = fmt.Errorf("add permanent neighbour %s lladdr %s on interface %d: %w", q.ip, q.mac, q.index, syscall.Errno(-code))
				if !q.ip.IsValid() {
					failed = fmt.Errorf("add FDB entry %s on bridge port %d: %w", q.mac, q.index, syscall.Errno(-code))
				}
			}
		}
	}
	if failed != nil {
		return failed
	}
	s.buf = s.buf[:0]
	s.queued = s.queued[:0]
	return nil
}

// neighbourTable tells, when the scenario does not pre-install its
// neighbours, whether its checks would resolve more neighbours at once
// than the host's ARP table holds: each pair of nodes a check relates
// (the node it runs in and a node it aims at) costs two entries when they
// share a segment (one on each side) and at least one otherwise. The
// estimate is a lower bound, compared with the host's gc_thresh3, read
// only; a host whose value cannot be read is not judged.
func (v *validator) neighbourTable(p *plan) {
	if p.spec.neighbours || len(v.errs) > 0 {
		return
	}
	limit, ok := hostNeighbourLimit()
	if !ok {
		return
	}
	if est := estimateNeighbours(p); est >= limit {
		v.add("scenario", "its checks resolve about %d neighbours at once (2 per pair of nodes on one segment), more than the host's neighbour table holds (net.ipv4.neigh.default.gc_thresh3 = %d, shared by every namespace): the kernel would refuse entries and checks would fail",
			"call PreinstallNeighbours() on the Spec (permanent entries are exempt from the limit; ARP is then not exercised), or split the scenario", est, limit)
	}
}

// hostNeighbourLimit reads the host's ARP table limit, from the calling
// goroutine (the host's namespace: only the initial namespace has it).
func hostNeighbourLimit() (int, bool) {
	raw, err := nsx.ReadSysctl("net.ipv4.neigh.default.gc_thresh3")
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(raw)
	return n, err == nil
}

// estimateNeighbours is the lower bound of neighbourTable.
func estimateNeighbours(p *plan) int {
	segsOf := map[string][]int{}
	for i, sg := range p.segments {
		for _, m := range sg.members {
			segsOf[m.node.spec.name] = append(segsOf[m.node.spec.name], i)
		}
		for _, b := range sg.bridges {
			if len(b.bridgeAddrs) > 0 {
				segsOf[b.spec.name] = append(segsOf[b.spec.name], i)
			}
		}
	}
	shared := func(a, b string) bool {
		for _, i := range segsOf[a] {
			for _, j := range segsOf[b] {
				if i == j {
					return true
				}
			}
		}
		return false
	}
	seen := map[[2]string]bool{}
	est := 0
	for _, c := range p.spec.checks {
		if c.IsStep() {
			continue
		}
		refs, ok := RefsOf(c.Func)
		if !ok {
			continue
		}
		for _, from := range refs.Nodes {
			for _, to := range refs.Targets {
				if _, isNode := segsOf[to]; !isNode || from == to {
					continue
				}
				k := [2]string{min(from, to), max(from, to)}
				if seen[k] {
					continue
				}
				seen[k] = true
				if shared(from, to) {
					est += 2
				} else {
					est++
				}
			}
		}
	}
	return est
}
