package assert

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/scenario"
)

// The L2 part of the path walk: whether a frame sent out of one interface
// reaches another, through what joins segments at layer 2 (veth pairs,
// bridges inside nodes and Switch nodes, VLAN sub-interfaces, macvlan and
// ipvlan, bonds, VXLAN), and if not, the first place it stops.

// l2Pos is where a frame is: on an interface of a node, being sent (tx,
// towards the wire) or received (rx, up the stack), with the VLAN tags it
// carries, outermost last.
type l2Pos struct {
	node  string
	iface string
	rx    bool
	tags  string // "10", "100.10": the VIDs, innermost first
}

func (p l2Pos) String() string { return p.node + ":" + p.iface }

func (p l2Pos) tagList() []int {
	if p.tags == "" {
		return nil
	}
	var out []int
	for _, s := range strings.Split(p.tags, ".") {
		v, _ := strconv.Atoi(s)
		out = append(out, v)
	}
	return out
}

func tagKey(tags []int) string {
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = fmt.Sprint(t)
	}
	return strings.Join(parts, ".")
}

// l2Step is one move of a frame, with why it cannot happen ("" when it
// can).
type l2Step struct {
	to      l2Pos
	problem string
}

// l2Node is the L2 state of a node, read once per walk.
type l2Node struct {
	nd      *scenario.Node
	links   map[string]netlink.Link
	byIndex map[int]netlink.Link
	ports   map[int]scenario.BridgePortInfo
	vlans   map[int32][]*nl.BridgeVlanInfo
}

// l2Walker follows frames through a network.
type l2Walker struct {
	n     *scenario.Network
	nodes map[string]*l2Node
	// dstMAC is the MAC address the frame is sent to.
	dstMAC net.HardwareAddr
	depth  int // VXLAN underlay walks in progress
	// size is the packet's size (IP header included), 0 when small.
	size int
}

func newL2Walker(n *scenario.Network, depth, size int) *l2Walker {
	return &l2Walker{n: n, nodes: map[string]*l2Node{}, depth: depth, size: size}
}

func (w *l2Walker) node(name string) *l2Node {
	if s, ok := w.nodes[name]; ok {
		return s
	}
	nd, ok := w.n.Lookup(name)
	if !ok {
		w.nodes[name] = nil
		return nil
	}
	s := &l2Node{nd: nd, links: map[string]netlink.Link{}, byIndex: map[int]netlink.Link{}}
	links, _ := nd.Netlink().LinkList()
	for _, l := range links {
		s.links[l.Attrs().Name] = l
		s.byIndex[l.Attrs().Index] = l
	}
	s.ports, _ = nd.BridgePorts()
	s.vlans, _ = nd.Netlink().BridgeVlanList()
	w.nodes[name] = s
	return s
}

// reaches reports whether a frame sent out of from:out reaches to:in
// (untagged, as the stack of to:in sees it). When it does not, problem
// names the first hop where it stops, found on a path that exists in the
// topology but is broken in the kernel; problem is "" when no such path
// exists either.
func (w *l2Walker) reaches(from *scenario.Node, out string, to *scenario.Node, in string) (ok bool, problem string) {
	start := l2Pos{node: from.Name(), iface: out}
	goal := l2Pos{node: to.Name(), iface: in, rx: true}
	if ifc := to.Interface(in); ifc != nil {
		w.dstMAC = ifc.MAC
	}
	if _, ok := w.search(start, goal, true); ok {
		return true, ""
	}
	problems, ok := w.search(start, goal, false)
	if !ok {
		return false, ""
	}
	for _, p := range problems {
		if p != "" {
			return false, p
		}
	}
	return false, ""
}

// search is a breadth-first search from start to goal. With healthy, only
// steps without a problem are taken; without, every step is, and the
// problems of the steps on the path found are returned in order.
func (w *l2Walker) search(start, goal l2Pos, healthy bool) ([]string, bool) {
	type visit struct {
		from    l2Pos
		problem string
	}
	seen := map[l2Pos]visit{start: {}}
	queue := []l2Pos{start}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == goal {
			var problems []string
			for p != start {
				v := seen[p]
				problems = append([]string{v.problem}, problems...)
				p = v.from
			}
			return problems, true
		}
		for _, s := range w.steps(p) {
			if healthy && s.problem != "" {
				continue
			}
			if _, ok := seen[s.to]; ok {
				continue
			}
			seen[s.to] = visit{from: p, problem: s.problem}
			queue = append(queue, s.to)
		}
	}
	return nil, false
}

// steps are the moves of a frame at p.
func (w *l2Walker) steps(p l2Pos) []l2Step {
	s := w.node(p.node)
	if s == nil {
		return nil
	}
	l, ok := s.links[p.iface]
	if !ok {
		return nil
	}
	tags := p.tagList()
	var out []l2Step
	enter := func(node, iface string, rx bool, tags []int, problem string) {
		if problem == "" {
			if nd := w.node(node); nd != nil {
				problem = linkProblem(nd.nd, iface)
			}
		}
		if problem == "" {
			problem = w.mtuProblem(p, node, iface)
		}
		out = append(out, l2Step{to: l2Pos{node: node, iface: iface, rx: rx, tags: tagKey(tags)}, problem: problem})
	}
	if !p.rx {
		// Sending.
		if ifc := s.nd.Interface(p.iface); ifc != nil && ifc.PeerNode != "" {
			enter(ifc.PeerNode, ifc.PeerInterface, true, tags, "")
		} else if peer := w.tunnelPeer(p.node, p.iface); peer.node != "" {
			enter(peer.node, peer.iface, true, tags, "")
		}
		switch l := l.(type) {
		case *netlink.Vlan:
			if parent, ok := s.byIndex[l.ParentIndex]; ok {
				enter(p.node, parent.Attrs().Name, false, append(tags, l.VlanId), "")
			}
		case *netlink.Bridge:
			for _, port := range w.portsOf(s, l) {
				enter(p.node, port.Attrs().Name, false, nil, "")
				out[len(out)-1] = w.egress(s, l, nil, port, tags, out[len(out)-1])
			}
		case *netlink.Bond:
			for _, m := range w.portsOf(s, l) {
				enter(p.node, m.Attrs().Name, false, tags, "")
			}
		case *netlink.Vxlan:
			out = append(out, w.vxlanSteps(s, l, tags)...)
		default:
			// A kind stacked on a parent's wire (the role
			// scenario.IfaceSpec.Upper: a macvlan, an ipvlan);
			// none for the others.
			out = append(out, w.upperSteps(p, tags)...)
		}
		return out
	}
	// Receiving.
	if m, ok := s.byIndex[l.Attrs().MasterIndex]; ok {
		switch m := m.(type) {
		case *netlink.Bridge:
			vid, inner, problem := w.ingressVLAN(s, m, l, tags)
			if info, ok := s.ports[l.Attrs().Index]; ok && info.State != "forwarding" {
				problem = fmt.Sprintf("%s: bridge port %s of %s is in STP state %s", p.node, p.iface, m.Attrs().Name, info.State)
			}
			for _, port := range w.portsOf(s, m) {
				if port.Attrs().Index == l.Attrs().Index {
					continue
				}
				enter(p.node, port.Attrs().Name, false, nil, problem)
				out[len(out)-1] = w.egress(s, m, l, port, tags, out[len(out)-1])
			}
			// Up into the bridge's own stack.
			st := l2Step{to: l2Pos{node: p.node, iface: m.Attrs().Name, rx: true, tags: tagKey(inner)}, problem: problem}
			if vid != 0 {
				if problem == "" && !w.member(s, m, m, vid) {
					st.problem = fmt.Sprintf("%s: VLAN %d (from port %s) is not configured on the bridge %s itself", p.node, vid, p.iface, m.Attrs().Name)
				}
				if !w.untagged(s, m, m, vid) {
					st.to.tags = tagKey(append(append([]int(nil), inner...), vid))
				}
			}
			return append(out, st)
		case *netlink.Bond:
			enter(p.node, m.Attrs().Name, true, tags, "")
			return out
		}
	}
	// Up into a VLAN sub-interface: the one of the frame's outermost
	// tag; the others are there only to name a mismatch.
	for _, name := range sortedNames(s.links) {
		v, ok := s.links[name].(*netlink.Vlan)
		if !ok || v.ParentIndex != l.Attrs().Index {
			continue
		}
		if len(tags) > 0 && v.VlanId == tags[len(tags)-1] {
			enter(p.node, name, true, tags[:len(tags)-1], "")
			continue
		}
		why := fmt.Sprintf("%s: %s receives untagged frames, but its VLAN interface %s takes VLAN %d only (VLAN ID mismatch)", p.node, p.iface, name, v.VlanId)
		if len(tags) > 0 {
			why = fmt.Sprintf("%s: %s receives frames tagged VLAN %d, but its VLAN interface %s is VLAN %d (VLAN ID mismatch)", p.node, p.iface, tags[len(tags)-1], name, v.VlanId)
		}
		enter(p.node, name, true, nil, why)
	}
	// Frames from the wire reach the interfaces stacked on it (macvlan, ipvlan).
	for _, u := range w.uppers(p.node, p.iface) {
		enter(u.node, u.iface, true, tags, "")
	}
	return out
}

// portsOf returns the interfaces enslaved to a bridge or bond.
func (w *l2Walker) portsOf(s *l2Node, master netlink.Link) []netlink.Link {
	var out []netlink.Link
	for _, name := range sortedNames(s.links) {
		l := s.links[name]
		if l.Attrs().MasterIndex == master.Attrs().Index {
			out = append(out, l)
		}
	}
	return out
}

func sortedNames(m map[string]netlink.Link) []string {
	return slices.Sorted(maps.Keys(m))
}

// filtering reports whether a bridge filters VLANs.
func filtering(b *netlink.Bridge) bool { return b.VlanFiltering != nil && *b.VlanFiltering }

// ingressVLAN classifies a frame arriving on a port of a VLAN-aware
// bridge: its VLAN, the tags inside it, and why the port drops it.
func (w *l2Walker) ingressVLAN(s *l2Node, br *netlink.Bridge, port netlink.Link, tags []int) (vid int, inner []int, problem string) {
	if !filtering(br) {
		return 0, tags, ""
	}
	name := port.Attrs().Name
	if len(tags) > 0 {
		vid, inner = tags[len(tags)-1], tags[:len(tags)-1]
		if !w.member(s, br, port, vid) {
			return vid, inner, fmt.Sprintf("%s: VLAN %d is not allowed on bridge port %s (%s)", s.nd.Name(), vid, name, w.vlanText(s, port))
		}
		return vid, inner, ""
	}
	for _, v := range s.vlans[int32(port.Attrs().Index)] {
		if v.PortVID() {
			return int(v.Vid), nil, ""
		}
	}
	return 0, nil, fmt.Sprintf("%s: bridge port %s has no PVID: it drops untagged frames (%s)", s.nd.Name(), name, w.vlanText(s, port))
}

func (w *l2Walker) member(s *l2Node, br *netlink.Bridge, port netlink.Link, vid int) bool {
	for _, v := range s.vlans[int32(port.Attrs().Index)] {
		if int(v.Vid) == vid {
			return true
		}
	}
	return false
}

func (w *l2Walker) untagged(s *l2Node, br *netlink.Bridge, port netlink.Link, vid int) bool {
	for _, v := range s.vlans[int32(port.Attrs().Index)] {
		if int(v.Vid) == vid && v.EngressUntag() {
			return true
		}
	}
	return false
}

func (w *l2Walker) vlanText(s *l2Node, port netlink.Link) string {
	var parts []string
	for _, v := range s.vlans[int32(port.Attrs().Index)] {
		t := fmt.Sprint(v.Vid)
		if v.PortVID() {
			t += " PVID"
		}
		if v.EngressUntag() {
			t += " untagged"
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "no VLANs"
	}
	return "VLANs " + strings.Join(parts, ", ")
}

// egress completes a step out of a bridge port: the port's STP state,
// isolation from the ingress port (nil when the bridge itself sends), the
// VLAN on the way out and whether an unknown destination is flooded to it.
func (w *l2Walker) egress(s *l2Node, br *netlink.Bridge, in, port netlink.Link, tags []int, st l2Step) l2Step {
	node, name := s.nd.Name(), port.Attrs().Name
	info, known := s.ports[port.Attrs().Index]
	vid, inner := 0, tags
	if in != nil {
		vid, inner, _ = w.ingressVLAN(s, br, in, tags)
	} else if filtering(br) {
		vid, inner, _ = w.ingressVLAN(s, br, br, tags)
	}
	out := inner
	// A VLAN the port does not carry is a problem below; the frame goes
	// on untagged, so the search finds the path it breaks.
	if vid != 0 && w.member(s, br, port, vid) && !w.untagged(s, br, port, vid) {
		out = append(append([]int(nil), inner...), vid)
	}
	st.to.tags = tagKey(out)
	set := func(p string) {
		if st.problem == "" {
			st.problem = p
		}
	}
	if known && info.State != "forwarding" {
		set(fmt.Sprintf("%s: bridge port %s of %s is in STP state %s", node, name, br.Attrs().Name, info.State))
	}
	if in != nil {
		if ii, ok := s.ports[in.Attrs().Index]; ok && ii.Isolated && info.Isolated {
			set(fmt.Sprintf("%s: bridge ports %s and %s of %s are both isolated: they do not forward to each other", node, in.Attrs().Name, name, br.Attrs().Name))
		}
	}
	if vid != 0 && !w.member(s, br, port, vid) {
		set(fmt.Sprintf("%s: VLAN %d is not allowed on bridge port %s (%s)", node, vid, name, w.vlanText(s, port)))
	}
	if known && !info.Flood && !w.fdbHas(s, port, w.dstMAC) {
		why := "flooding off"
		if !info.Learning {
			why = "flooding and learning off"
		}
		set(fmt.Sprintf("%s: bridge port %s of %s has %s and no FDB entry for %s: unicast to it is not forwarded", node, name, br.Attrs().Name, why, w.dstMAC))
	}
	return st
}

// fdbHas reports whether a bridge port has a forwarding entry for mac.
func (w *l2Walker) fdbHas(s *l2Node, port netlink.Link, mac net.HardwareAddr) bool {
	if mac == nil {
		return true
	}
	fdb, _ := s.nd.Netlink().NeighList(port.Attrs().Index, unix.AF_BRIDGE)
	for _, e := range fdb {
		if e.HardwareAddr.String() == mac.String() {
			return true
		}
	}
	return false
}

// upperSteps are the moves of a frame sent by an interface stacked on a
// parent (scenario.IfaceSpec.Upper: a macvlan, an ipvlan): out through its
// parent, and to its siblings when both are in a mode that passes frames
// between siblings.
func (w *l2Walker) upperSteps(p l2Pos, tags []int) []l2Step {
	parent, mode, passes := w.upperParent(p.node, p.iface)
	if parent.node == "" {
		return nil
	}
	steps := []l2Step{{to: l2Pos{node: parent.node, iface: parent.iface, tags: tagKey(tags)}}}
	if nd := w.node(parent.node); nd != nil {
		steps[0].problem = linkProblem(nd.nd, parent.iface)
	}
	for _, u := range w.uppers(parent.node, parent.iface) {
		if u == (l2Pos{node: p.node, iface: p.iface, rx: true}) {
			continue
		}
		st := l2Step{to: l2Pos{node: u.node, iface: u.iface, rx: true, tags: tagKey(tags)}}
		if _, m, ok := w.upperParent(u.node, u.iface); !passes || !ok {
			st.problem = fmt.Sprintf("%s: %s and %s:%s share the parent %s in modes %s and %s: frames pass between siblings only when both are in a mode that forwards between them", p.node, p.iface, u.node, u.iface, parent, mode, m)
		}
		steps = append(steps, st)
	}
	return steps
}

// upperParent returns the parent of an interface stacked on one, from the
// scenario (the kernel's parent index is in another namespace), its mode
// as the kernel has it, and whether frames pass between siblings in it.
func (w *l2Walker) upperParent(node, iface string) (l2Pos, string, bool) {
	spec := specNode(w.n, node)
	if spec == nil {
		return l2Pos{}, "", false
	}
	for _, i := range spec.Ifaces() {
		ref, ok := i.Upper()
		if i.Name() != iface || !ok || ref == "" {
			continue
		}
		pn, pi, ok := strings.Cut(ref, ":")
		if !ok {
			pn, pi = node, ref
		}
		var link netlink.Link
		if s := w.node(node); s != nil {
			link = s.links[iface]
		}
		mode, passes := i.SiblingMode(link)
		return l2Pos{node: pn, iface: pi}, mode, passes
	}
	return l2Pos{}, "", false
}

// uppers returns the interfaces stacked on node:iface, as receiving
// positions.
func (w *l2Walker) uppers(node, iface string) []l2Pos {
	var out []l2Pos
	for _, ns := range w.n.Spec().Nodes() {
		for _, i := range ns.Ifaces() {
			if _, ok := i.Upper(); !ok {
				continue
			}
			if p, _, _ := w.upperParent(ns.Name(), i.Name()); p.node == node && p.iface == iface {
				out = append(out, l2Pos{node: ns.Name(), iface: i.Name(), rx: true})
			}
		}
	}
	return out
}

// vxlanSteps are the moves of a frame sent into a VXLAN: to the VXLAN
// interface of each remote endpoint, which must have the same VNI and
// UDP port and be reachable over the underlay.
func (w *l2Walker) vxlanSteps(s *l2Node, vx *netlink.Vxlan, tags []int) []l2Step {
	var remotes []netip.Addr
	if a, ok := netip.AddrFromSlice(vx.Group); ok && vx.Group != nil && !a.Unmap().IsMulticast() && !a.IsUnspecified() {
		remotes = append(remotes, a.Unmap())
	}
	fdb, _ := s.nd.Netlink().NeighList(vx.Attrs().Index, unix.AF_BRIDGE)
	for _, e := range fdb {
		a, ok := netip.AddrFromSlice(e.IP)
		if !ok || e.IP == nil {
			continue
		}
		a = a.Unmap()
		dup := false
		for _, r := range remotes {
			dup = dup || r == a
		}
		if !dup {
			remotes = append(remotes, a)
		}
	}
	var steps []l2Step
	me := fmt.Sprintf("%s:%s", s.nd.Name(), vx.Attrs().Name)
	for _, r := range remotes {
		ifc := owner(w.n, r)
		if ifc == nil {
			continue
		}
		peer := w.node(nodeOf(w.n, ifc))
		if peer == nil {
			continue
		}
		var cand *netlink.Vxlan
		for _, name := range sortedNames(peer.links) {
			if v, ok := peer.links[name].(*netlink.Vxlan); ok && (cand == nil || v.VxlanId == vx.VxlanId && cand.VxlanId != vx.VxlanId) {
				cand = v
			}
		}
		if cand == nil {
			continue
		}
		st := l2Step{to: l2Pos{node: peer.nd.Name(), iface: cand.Attrs().Name, rx: true, tags: tagKey(tags)}}
		there := fmt.Sprintf("%s:%s", peer.nd.Name(), cand.Attrs().Name)
		switch {
		case cand.VxlanId != vx.VxlanId:
			st.problem = fmt.Sprintf("VNI mismatch: %s sends VNI %d to %s, but %s has VNI %d", me, vx.VxlanId, r, there, cand.VxlanId)
		case vxPort(cand) != vxPort(vx):
			st.problem = fmt.Sprintf("UDP port mismatch: %s sends to port %d, but %s listens on %d", me, vxPort(vx), there, vxPort(cand))
		default:
			st.problem = linkProblem(peer.nd, cand.Attrs().Name)
		}
		if st.problem == "" && w.depth < 2 {
			src := netip.Addr{}
			if a, ok := netip.AddrFromSlice(vx.SrcAddr); ok && vx.SrcAddr != nil {
				src = a.Unmap()
			}
			if _, _, _, _, _, p := walkOneDepth(w.n, s.nd, "", src, r, w.depth+1, 0); p != "" {
				st.problem = fmt.Sprintf("%s: the underlay to the VTEP %s breaks: %s", me, r, p)
			}
		}
		steps = append(steps, st)
	}
	return steps
}

func vxPort(v *netlink.Vxlan) int {
	if v.Port == 0 {
		return 4789
	}
	return v.Port
}

// tunnelPeer returns the other end of a tunnel declared with a peer
// (WireGuard), as a receiving position.
func (w *l2Walker) tunnelPeer(node, iface string) l2Pos {
	spec := specNode(w.n, node)
	if spec == nil {
		return l2Pos{}
	}
	for _, i := range spec.Ifaces() {
		if i.Name() != iface || i.Peer() == "" {
			continue
		}
		if pn, pi, ok := strings.Cut(i.Peer(), ":"); ok {
			return l2Pos{node: pn, iface: pi, rx: true}
		}
	}
	return l2Pos{}
}

// mtuProblem says why a packet of the walk's size cannot enter
// node:iface from p: it is larger than the interface's MTU (a veth peer
// drops it, a bridge does not forward it to the port).
func (w *l2Walker) mtuProblem(p l2Pos, node, iface string) string {
	if w.size == 0 {
		return ""
	}
	s := w.node(node)
	if s == nil {
		return ""
	}
	l, ok := s.links[iface]
	if !ok || l.Attrs().MTU == 0 || w.size <= l.Attrs().MTU {
		return ""
	}
	from := ""
	if ps := w.node(p.node); ps != nil {
		if pl, ok := ps.links[p.iface]; ok {
			from = fmt.Sprintf(" (MTU %d)", pl.Attrs().MTU)
		}
	}
	return fmt.Sprintf("%s: %s has MTU %d: the %d-byte packet from %s%s does not fit (MTU mismatch on the L2 path)", node, iface, l.Attrs().MTU, w.size, p, from)
}

// apart says why two interfaces are not on one segment, for the walk's
// verdict: the parents of interfaces stacked on one (macvlan, ipvlan) sitting on
// different LANs, or else a wrong gateway.
func apart(n *scenario.Network, node, iface, nextNode, nextIface string) string {
	w := newL2Walker(n, 0, 0)
	p, _, _ := w.upperParent(node, iface)
	q, _, _ := w.upperParent(nextNode, nextIface)
	if p.node == "" && q.node == "" || p == q {
		return "wrong gateway?"
	}
	on := func(pos l2Pos) string {
		if pos.node == "" {
			return "is not stacked on a parent"
		}
		return "is on " + pos.String()
	}
	return fmt.Sprintf("%s:%s %s, %s:%s %s: their parents are on different LANs", node, iface, on(p), nextNode, nextIface, on(q))
}
