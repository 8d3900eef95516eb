package scenario

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
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
// table holds may have them installed, permanent, at build.

// PreinstallNeighbours installs, at build, a permanent neighbour entry
// (ARP for IPv4, NDP for IPv6) on every interface for every address of
// every other interface on its layer-2 segment (a link, or a switch with
// all its ports and its bridge's addresses). Permanent entries are exempt
// from the kernel's neighbour table limit (gc_thresh3, shared by every
// namespace of the host), so scenarios with thousands of hosts run on a
// host with default settings. Off by default: with it, address resolution
// (ARP, NDP) is never exercised, and the evidence of reach checks says so.
// A segment of n interfaces costs n(n−1) entries of kernel memory (about
// 0.5 KiB each).
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

// preinstallNeighbours is the build step of PreinstallNeighbours: it reads
// each segment's MACs (recorded by waitUp, read back for the rest) and
// installs the entries of each node in batches, the nodes in parallel.
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
	entries := map[*Node][]*netlink.Neigh{}
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
		for i, on := range ends {
			for j, of := range ends {
				if i == j {
					continue
				}
				for _, a := range of.addrs {
					if a.Addr().IsLinkLocalUnicast() || !hasFamily(on.addrs, a.Addr()) {
						continue
					}
					entries[on.node] = append(entries[on.node], &netlink.Neigh{
						LinkIndex: on.index, Family: family(a.Addr()), State: netlink.NUD_PERMANENT,
						IP: a.Addr().AsSlice(), HardwareAddr: of.mac,
					})
				}
			}
		}
	}
	sem := make(chan struct{}, maxParallelNodes())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for nd, ne := range entries {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := ctx.Err(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			if err := nd.addNeighbours(ne); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func hasFamily(addrs []netip.Prefix, a netip.Addr) bool {
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
// is about 50 bytes and its answer under 100, well within a netlink
// socket's buffers.
const neighbourBatch = 256

// addNeighbours installs entries in the node's namespace, neighbourBatch
// requests per write on one netlink socket, and returns when the kernel
// has answered every one.
func (nd *Node) addNeighbours(entries []*netlink.Neigh) error {
	return nd.Do(func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("open netlink socket: %w", err)
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fmt.Errorf("bind netlink socket: %w", err)
		}
		buf := make([]byte, 0, neighbourBatch*64)
		answer := make([]byte, 1<<16)
		for start := 0; start < len(entries); start += neighbourBatch {
			batch := entries[start:min(start+neighbourBatch, len(entries))]
			buf = buf[:0]
			bySeq := make(map[uint32]*netlink.Neigh, len(batch))
			for _, ne := range batch {
				req := neighRequest(ne)
				bySeq[req.Seq] = ne
				buf = append(buf, req.Serialize()...)
			}
			if err := unix.Sendto(fd, buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
				return fmt.Errorf("send %d neighbour entries: %w", len(batch), err)
			}
			for len(bySeq) > 0 {
				k, _, err := unix.Recvfrom(fd, answer, 0)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					return fmt.Errorf("read the answers to neighbour entries: %w", err)
				}
				msgs, err := syscall.ParseNetlinkMessage(answer[:k])
				if err != nil {
					return fmt.Errorf("parse the answers to neighbour entries: %w", err)
				}
				for _, m := range msgs {
					ne, ok := bySeq[m.Header.Seq]
					if !ok || m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
						continue
					}
					delete(bySeq, m.Header.Seq)
					if code := int32(binary.NativeEndian.Uint32(m.Data[:4])); code != 0 {
						return fmt.Errorf("add neighbour %s lladdr %s dev %d: %w", ne.IP, ne.HardwareAddr, ne.LinkIndex, syscall.Errno(-code))
					}
				}
			}
		}
		return nil
	})
}

// neighRequest is the RTM_NEWNEIGH request of `ip neigh replace … nud
// permanent`, as netlink's NeighSet makes it.
func neighRequest(ne *netlink.Neigh) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(unix.RTM_NEWNEIGH, unix.NLM_F_CREATE|unix.NLM_F_REPLACE|unix.NLM_F_ACK)
	msg := netlink.Ndmsg{Family: uint8(ne.Family), Index: uint32(ne.LinkIndex), State: uint16(ne.State)}
	req.AddData(&msg)
	ip := ne.IP
	if ne.Family == unix.AF_INET {
		ip = ip.To4()
	}
	req.AddData(nl.NewRtAttr(netlink.NDA_DST, ip))
	req.AddData(nl.NewRtAttr(netlink.NDA_LLADDR, ne.HardwareAddr))
	return req
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
