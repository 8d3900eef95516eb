package assert

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/scenario"
)

// WalkHop is one node of a path walk: what its kernel would do with the
// packet.
type WalkHop struct {
	Node string
	// In is the interface the packet arrives on ("" where it starts).
	In string
	// Route is the node's route lookup, like ip route get (with iif and
	// from on transit nodes, so forwarding and reverse-path checks count).
	Route string
	// Forwarding is the forwarding sysctl of a transit node.
	Forwarding string
	// Neigh is the next hop's neighbour entry on the way out.
	Neigh string
	// Drops are the drop counters of the interfaces involved.
	Drops string
	// Problem is why the packet dies here, or "".
	Problem string

	// The packet as it passes: its addresses and the interface it leaves
	// by, for the nftables rules on the path.
	src, dst netip.Addr
	out      string
}

// String renders the hop on one line.
func (h WalkHop) String() string {
	parts := []string{h.Node}
	if h.In != "" {
		parts = append(parts, "in "+h.In)
	}
	for _, p := range []string{h.Forwarding, h.Route, h.Neigh, h.Drops} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	s := strings.Join(parts, ", ")
	if h.Problem != "" {
		s += "  ✗ " + h.Problem
	}
	return s
}

// Walk is a path walk: the path a packet from a node to an address would
// take, hop by hop, forward and back, computed from the scenario's own
// kernel state (route lookups, forwarding sysctls, link states, neighbour
// entries, drop counters and nftables rules), and the first hop where it
// breaks.
type Walk struct {
	From            string
	To              netip.Addr
	Forward, Return []WalkHop
	// Break is the first place the path breaks, e.g. "return path: r2 has
	// no route to 10.0.1.1 (table main)", or "" when none was found.
	Break   string
	Elapsed time.Duration
}

// Evidence renders the walk.
func (w *Walk) Evidence() string {
	var b strings.Builder
	fmt.Fprintf(&b, "path walk %s → %s:\n", w.From, w.To)
	for _, dir := range []struct {
		name string
		hops []WalkHop
	}{{"forward", w.Forward}, {"return", w.Return}} {
		if len(dir.hops) == 0 {
			continue
		}
		fmt.Fprintf(&b, "  %s:\n", dir.name)
		for i, h := range dir.hops {
			fmt.Fprintf(&b, "    %d. %s\n", i+1, h)
		}
	}
	if w.Break != "" {
		fmt.Fprintf(&b, "  first break: %s", w.Break)
	} else {
		b.WriteString("  no break found in routes, forwarding, links, neighbours or nftables")
	}
	return b.String()
}

// maxWalkHops bounds a walk (a routing loop ends it).
const maxWalkHops = 32

// WalkPath walks the path from a node to dst and back through the
// network's kernel state. It sends nothing.
func WalkPath(from *scenario.Node, dst netip.Addr) *Walk {
	return walkPath(from, dst, 0)
}

// walkPath is WalkPath for a packet of size bytes (IP header included; 0:
// a small one): a frame larger than an interface's MTU on an L2 path
// stops there.
func walkPath(from *scenario.Node, dst netip.Addr, size int) *Walk {
	start := time.Now()
	n := from.Network()
	w := &Walk{From: from.Name(), To: dst}
	defer func() { w.Elapsed = time.Since(start) }()
	hops, end, _, src, nat, problem := walkOneDepth(n, from, "", netip.Addr{}, dst, 0, size)
	w.Forward = hops
	if problem != "" {
		w.Break = "forward path: " + problem
		return w
	}
	if !src.IsValid() {
		return w // the node's own address: nothing goes back
	}
	// The reply goes from dst back to the (possibly translated) source.
	back, _, _, _, _, problem := walkOneDepth(n, end, "", dst, src, 0, size)
	if problem == "" && nat.node != nil {
		// Un-NAT at the router, then on to the original source.
		more, _, _, _, _, p := walkOneDepth(n, nat.node, nat.in, dst, nat.orig, 0, size)
		back, problem = append(back, more...), p
	}
	w.Return = back
	if problem != "" {
		w.Break = "return path: " + problem
		return w
	}
	// Routing is fine both ways: look for firewalls on the path.
	for _, dir := range []struct {
		name string
		hops []WalkHop
	}{{"forward path", w.Forward}, {"return path", w.Return}} {
		for i := range dir.hops {
			nd, _ := n.Lookup(dir.hops[i].Node)
			transit := dir.hops[i].In != "" && i < len(dir.hops)-1
			if p := nftDrops(nd, transit, dir.hops[i]); p != "" {
				p += packetIfaces(dir.hops[i])
				dir.hops[i].Problem = p
				w.Break = dir.name + ": " + p
				return w
			}
		}
	}
	return w
}

type natHop struct {
	node *scenario.Node
	in   string     // the interface the reply arrives on
	orig netip.Addr // the source before translation
}

// walkOneDepth walks from a node (with the packet arriving on in, or
// starting there when in is "") towards dst, inside depth VXLAN underlay
// walks, with a packet of size bytes (0: small). It returns the hops, the
// node and interface where it arrived, the source address after any
// masquerade, the NAT router passed, and the problem that stopped it (""
// when it arrived).
func walkOneDepth(n *scenario.Network, cur *scenario.Node, in string, src, dst netip.Addr, depth, size int) (hops []WalkHop, end *scenario.Node, endIn string, srcOut netip.Addr, nat natHop, problem string) {
	fwdName := "net.ipv4.ip_forward"
	if dst.Is6() {
		fwdName = "net.ipv6.conf.all.forwarding"
	}
	seen := map[string]bool{}
	for range maxWalkHops {
		h := WalkHop{Node: cur.Name(), In: in}
		key := cur.Name() + "/" + in
		if seen[key] {
			var path []string
			for _, x := range hops {
				path = append(path, x.Node)
			}
			h.Problem = fmt.Sprintf("routing loop: %s → %s", strings.Join(path, " → "), cur.Name())
			return append(hops, h), cur, in, src, nat, h.Problem
		}
		seen[key] = true
		if owns(cur, dst) {
			h.src, h.dst = src, dst
			h.Route = "local: " + dst.String() + " is its own address"
			if in != "" {
				h.Drops = drops(cur, in)
			}
			return append(hops, h), cur, in, src, nat, ""
		}
		stop := func(p string) ([]WalkHop, *scenario.Node, string, netip.Addr, natHop, string) {
			h.Problem = p
			return append(hops, h), cur, in, src, nat, p
		}
		if in != "" {
			v, err := cur.Sysctl(fwdName)
			if err == nil {
				h.Forwarding = fwdName + "=" + v
				if strings.TrimSpace(v) == "0" {
					return stop(fmt.Sprintf("%s: %s=0 (the packet arrives on %s)", cur.Name(), fwdName, in))
				}
			}
		}
		opts := &netlink.RouteGetOptions{}
		if src.IsValid() {
			opts.SrcAddr = src.AsSlice()
		}
		if in != "" {
			if ifc := cur.Interface(in); ifc != nil {
				opts.IifIndex = ifc.Index
			}
		}
		routes, err := cur.Netlink().RouteGetWithOptions(dst.AsSlice(), opts)
		if err != nil || len(routes) == 0 {
			why := "no route"
			if err != nil {
				why = routeErr(err)
			}
			h.Route = why
			if in != "" && (errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EINVAL)) && rpFilters(cur, in, src) {
				return stop(rpFilterProblem(cur, in, src))
			}
			return stop(fmt.Sprintf("%s has no route to %s (%s: %s)%s", cur.Name(), dst, routeTableOf(cur, in), why, downIfaces(cur)))
		}
		rt := routes[0]
		out := ifaceName(cur, rt.LinkIndex)
		if out == "lo" {
			h.Route = "dev lo"
			return stop(fmt.Sprintf("%s routes %s to itself (dev lo) but does not own it", cur.Name(), dst))
		}
		nh := dst
		h.Route = "route dev " + out
		if gw, ok := netip.AddrFromSlice(rt.Gw); ok && rt.Gw != nil {
			nh = gw.Unmap()
			h.Route = fmt.Sprintf("route via %s dev %s", nh, out)
		}
		if !src.IsValid() {
			if s, ok := netip.AddrFromSlice(rt.Src); ok {
				src = s.Unmap()
				h.Route += " src " + src.String()
			}
		}
		if in != "" && out == in && !owns(cur, src) {
			h.Route += " (back where it came from)"
			return stop(fmt.Sprintf("%s: sends packets for %s back out of %s, where they came from (route via %s: wrong gateway?)", cur.Name(), dst, out, nh))
		}
		h.src, h.dst, h.out = src, dst, out
		h.Neigh = neighOf(cur, nh, rt.LinkIndex)
		h.Drops = drops(cur, in, out)
		outIfc := cur.Interface(out)
		if p := linkProblem(cur, out); p != "" {
			return stop(p)
		}
		if spec := specNode(n, cur.Name()); spec != nil && nat.node == nil {
			if masq, ok := spec.MasqueradeInterface(); ok && masq == out && masquerades(cur, out) {
				if a := firstAddr(outIfc, dst.Is4()); a.IsValid() {
					nat = natHop{node: cur, in: out, orig: src}
					src = a
					h.Route += " (masquerade to " + a.String() + ")"
				}
			}
		}
		next := owner(n, nh)
		if next == nil {
			return stop(fmt.Sprintf("%s: next hop %s (dev %s) is no node's address (wrong gateway?)", cur.Name(), nh, out))
		}
		nextNode, _ := n.Lookup(nodeOf(n, next))
		if ok, p := newL2Walker(n, depth, size).reaches(cur, out, nextNode, next.Name); !ok {
			switch {
			case p != "":
				return stop(p)
			case !adjacent(n, cur, outIfc, nextNode, next):
				return stop(fmt.Sprintf("%s: next hop %s belongs to %s, which is not on the segment of %s:%s (%s)", cur.Name(), nh, nextNode.Name(), cur.Name(), out, apart(n, cur.Name(), out, nextNode.Name(), next.Name)))
			}
		}
		if p := linkProblem(nextNode, next.Name); p != "" {
			return stop(p)
		}
		if strings.Contains(h.Neigh, "FAILED") {
			return stop(fmt.Sprintf("%s: neighbour %s on %s is FAILED (no ARP/NDP answer)", cur.Name(), nh, out))
		}
		hops = append(hops, h)
		cur, in = nextNode, next.Name
	}
	return hops, cur, in, src, nat, fmt.Sprintf("more than %d hops: a routing loop?", maxWalkHops)
}

func specNode(n *scenario.Network, name string) *scenario.NodeSpec {
	for _, s := range n.Spec().Nodes() {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

func firstAddr(ifc *scenario.Interface, v4 bool) netip.Addr {
	if ifc == nil {
		return netip.Addr{}
	}
	for _, a := range ifc.Addrs {
		if a.Addr().Is4() == v4 {
			return a.Addr()
		}
	}
	return netip.Addr{}
}

func owns(nd *scenario.Node, a netip.Addr) bool {
	for _, ifc := range nd.Interfaces() {
		for _, p := range ifc.Addrs {
			if p.Addr() == a {
				return true
			}
		}
	}
	return false
}

// adjacent reports whether next (an interface of nextNode) is on the
// segment of cur's out interface: its veth peer, or a port of the same
// switch.
func adjacent(n *scenario.Network, cur *scenario.Node, out *scenario.Interface, nextNode *scenario.Node, next *scenario.Interface) bool {
	if out == nil {
		return false
	}
	if out.PeerNode == nextNode.Name() && out.PeerInterface == next.Name {
		return true
	}
	sw, ok := n.Lookup(out.PeerNode)
	if !ok || sw.Role() != scenario.RoleSwitch {
		// A switch's own bridge address.
		return cur.Role() == scenario.RoleSwitch && cur == nextNode
	}
	if nextNode == sw {
		return true // the switch's bridge address
	}
	return next.PeerNode == sw.Name()
}

// linkProblem says why an interface cannot pass traffic, or "".
func linkProblem(nd *scenario.Node, iface string) string {
	l, err := nd.Netlink().LinkByName(iface)
	if err != nil {
		return fmt.Sprintf("%s: interface %s is gone", nd.Name(), iface)
	}
	a := l.Attrs()
	switch {
	case a.Flags&net.FlagUp == 0:
		return fmt.Sprintf("%s: %s is down", nd.Name(), iface)
	case a.RawFlags&unix.IFF_LOWER_UP == 0 && l.Type() == "bond":
		return fmt.Sprintf("%s: %s has no carrier: %s", nd.Name(), iface, bondMembers(nd, a.Index))
	case a.RawFlags&unix.IFF_LOWER_UP == 0:
		peer := ""
		if ifc := nd.Interface(iface); ifc != nil && ifc.PeerNode != "" {
			peer = fmt.Sprintf(" (its peer %s:%s is down)", ifc.PeerNode, ifc.PeerInterface)
		}
		return fmt.Sprintf("%s: %s has no carrier%s", nd.Name(), iface, peer)
	}
	return ""
}

// downIfaces names a node's interfaces that are down: a route through
// one of them is gone.
func downIfaces(nd *scenario.Node) string {
	var down []string
	for _, ifc := range nd.Interfaces() {
		if p := linkProblem(nd, ifc.Name); p != "" {
			down = append(down, strings.TrimPrefix(p, nd.Name()+": "))
		}
	}
	if len(down) == 0 {
		return ""
	}
	return "; " + strings.Join(down, "; ")
}

func routeErr(err error) string {
	switch {
	case errors.Is(err, syscall.ENETUNREACH):
		return "network is unreachable"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, syscall.EINVAL):
		return "invalid (martian source or no forwarding on the input interface)"
	case errors.Is(err, syscall.EXDEV):
		return "rejected by reverse-path filtering (rp_filter)"
	}
	return err.Error()
}

func neighOf(nd *scenario.Node, a netip.Addr, index int) string {
	family := unix.AF_INET
	if a.Is6() {
		family = unix.AF_INET6
	}
	entries, _ := nd.Netlink().NeighList(index, family)
	for _, e := range entries {
		if ip, ok := netip.AddrFromSlice(e.IP); ok && ip.Unmap() == a {
			return fmt.Sprintf("neigh %s %s %s", a, e.HardwareAddr, scenario.NeighState(e.State))
		}
	}
	return fmt.Sprintf("neigh %s none", a)
}

func drops(nd *scenario.Node, ifaces ...string) string {
	var parts []string
	for _, i := range ifaces {
		if i == "" {
			continue
		}
		l, err := nd.Netlink().LinkByName(i)
		if err != nil || l.Attrs().Statistics == nil {
			continue
		}
		s := l.Attrs().Statistics
		parts = append(parts, fmt.Sprintf("%s drops rx %d tx %d", i, s.RxDropped, s.TxDropped))
	}
	return strings.Join(parts, ", ")
}

// nftDrops names the nftables chains of a node that drop or reject
// traffic on the path: forward chains on a transit node, input and output
// chains on the ends. Rules with counters say how many packets they
// matched. A rule whose matches rule out the walk's packet (an ICMP echo
// of hop's addresses and interfaces) is passed over; so is one with a
// match the walk cannot evaluate: a wrong diagnosis costs more than none.
func nftDrops(nd *scenario.Node, transit bool, hop WalkHop) string {
	c, err := nftables.New(nftables.WithNetNSFd(inside.NamespaceFd(nd)), nftables.AsLasting())
	if err != nil {
		return ""
	}
	defer c.CloseLasting()
	chains, err := c.ListChains()
	if err != nil {
		return ""
	}
	for _, ch := range chains {
		if ch.Hooknum == nil || ch.Type != nftables.ChainTypeFilter {
			continue
		}
		hook := *ch.Hooknum
		onPath := hook == *nftables.ChainHookForward
		if !transit {
			onPath = hook == *nftables.ChainHookInput || hook == *nftables.ChainHookOutput
		}
		if !onPath {
			continue
		}
		name := fmt.Sprintf("%s: nftables chain %s %s (hook %s)", nd.Name(), ch.Table.Name, ch.Name, hookName(hook))
		if ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
			return name + " has policy drop"
		}
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			continue
		}
		for _, r := range rules {
			if !nftMatches(r.Exprs, hop, hook) {
				continue
			}
			var counter *expr.Counter
			for _, e := range r.Exprs {
				switch e := e.(type) {
				case *expr.Counter:
					counter = e
				case *expr.Verdict:
					if e.Kind == expr.VerdictDrop {
						return name + " has a drop rule" + counterNote(counter)
					}
				case *expr.Reject:
					return name + " has a reject rule" + counterNote(counter)
				}
			}
		}
	}
	return ""
}

// masquerades reports whether a node's nftables ruleset has a masquerade
// rule in a postrouting NAT chain for packets leaving out (or any
// interface).
func masquerades(nd *scenario.Node, out string) bool {
	c, err := nftables.New(nftables.WithNetNSFd(inside.NamespaceFd(nd)), nftables.AsLasting())
	if err != nil {
		return false
	}
	defer c.CloseLasting()
	chains, err := c.ListChains()
	if err != nil {
		return false
	}
	for _, ch := range chains {
		if ch.Type != nftables.ChainTypeNAT || ch.Hooknum == nil || *ch.Hooknum != *nftables.ChainHookPostrouting {
			continue
		}
		rules, _ := c.GetRules(ch.Table, ch)
		for _, r := range rules {
			oifOK, masq := true, false
			for _, e := range r.Exprs {
				switch e := e.(type) {
				case *expr.Cmp:
					oifOK = strings.TrimRight(string(e.Data), "\x00") == out
				case *expr.Masq:
					masq = true
				}
			}
			if masq && oifOK {
				return true
			}
		}
	}
	return false
}

func counterNote(c *expr.Counter) string {
	if c == nil {
		return " (no counter)"
	}
	return fmt.Sprintf(" (matched %d packets)", c.Packets)
}

func hookName(h nftables.ChainHook) string {
	switch h {
	case *nftables.ChainHookPrerouting:
		return "prerouting"
	case *nftables.ChainHookInput:
		return "input"
	case *nftables.ChainHookForward:
		return "forward"
	case *nftables.ChainHookOutput:
		return "output"
	case *nftables.ChainHookPostrouting:
		return "postrouting"
	}
	return fmt.Sprintf("hook %d", h)
}

// Walked is a scenario check that passes when the path walk from → to
// finds no break; its evidence is the walk. Failed Reach, Forwarded and
// NAT checks include the same walk in their evidence.
func Walked(from string, to Target, opts ...Option) scenario.CheckFunc {
	return named("Walked", readsIPv6, func(ctx context.Context, src *scenario.Node, dst netip.Addr, opts ...Option) (*Walk, error) {
		return walkCheck(src, dst)
	}, from, to, opts)
}

func walkCheck(src *scenario.Node, dst netip.Addr) (*Walk, error) {
	w := WalkPath(src, dst)
	if w.Break != "" {
		return w, fmt.Errorf("the path %s → %s breaks: %s", src.Name(), dst, w.Break)
	}
	return w, nil
}

// PathClear fails the test when the path walk from → to finds a break.
//
// Deprecated: use assert.Check(t, n, assert.Walked(…)).
func PathClear(t TestingT, from *scenario.Node, to Target, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, from.Network(), Walked(from.Name(), to, opts...))
}

// nftMatches reports whether a rule's matches certainly hold for the
// walk's packet at hop: an ICMP echo (ICMPv6 for IPv6) from hop.src to
// hop.dst, in by hop.In and out by hop.out. It evaluates meta l4proto,
// nfproto, iifname and oifname, the IP protocol and addresses (with
// prefix masks), compared equal or not equal; any other match makes the
// rule uncertain, and it does not count.
func nftMatches(exprs []expr.Any, hop WalkHop, hook nftables.ChainHook) bool {
	regs := map[uint32][]byte{}
	known := map[uint32]bool{}
	proto, nfproto := byte(unix.IPPROTO_ICMP), byte(unix.NFPROTO_IPV4)
	if hop.dst.Is6() {
		proto, nfproto = unix.IPPROTO_ICMPV6, unix.NFPROTO_IPV6
	}
	ifname := func(s string) []byte {
		b := make([]byte, 16)
		copy(b, s)
		return b
	}
	for _, e := range exprs {
		switch e := e.(type) {
		case *expr.Meta:
			known[e.Register] = true
			switch e.Key {
			case expr.MetaKeyL4PROTO:
				regs[e.Register] = []byte{proto}
			case expr.MetaKeyNFPROTO:
				regs[e.Register] = []byte{nfproto}
			case expr.MetaKeyIIFNAME:
				if hop.In == "" {
					return false // a locally sent packet has no input interface
				}
				regs[e.Register] = ifname(hop.In)
			case expr.MetaKeyOIFNAME:
				if hook == *nftables.ChainHookInput {
					return false
				}
				regs[e.Register] = ifname(hop.out)
			default:
				known[e.Register] = false
			}
		case *expr.Payload:
			known[e.DestRegister] = false
			if e.Base != expr.PayloadBaseNetworkHeader || !hop.src.IsValid() || !hop.dst.IsValid() {
				continue
			}
			src, dst := hop.src.AsSlice(), hop.dst.AsSlice()
			switch {
			case hop.dst.Is4() && e.Offset == 9 && e.Len == 1, hop.dst.Is6() && e.Offset == 6 && e.Len == 1:
				regs[e.DestRegister] = []byte{proto}
			case hop.dst.Is4() && e.Offset == 12 && e.Len == 4, hop.dst.Is6() && e.Offset == 8 && e.Len == 16:
				regs[e.DestRegister] = src
			case hop.dst.Is4() && e.Offset == 16 && e.Len == 4, hop.dst.Is6() && e.Offset == 24 && e.Len == 16:
				regs[e.DestRegister] = dst
			default:
				continue
			}
			known[e.DestRegister] = true
		case *expr.Bitwise:
			v, ok := regs[e.SourceRegister]
			if !known[e.SourceRegister] || !ok || len(e.Mask) != len(v) || len(e.Xor) != len(v) {
				known[e.DestRegister] = false
				continue
			}
			out := make([]byte, len(v))
			for i := range v {
				out[i] = v[i]&e.Mask[i] ^ e.Xor[i]
			}
			regs[e.DestRegister], known[e.DestRegister] = out, true
		case *expr.Cmp:
			v, ok := regs[e.Register]
			if !known[e.Register] || !ok {
				return false
			}
			eq := string(v) == string(e.Data)
			if e.Data != nil && len(e.Data) < len(v) {
				eq = string(v[:len(e.Data)]) == string(e.Data) && strings.Trim(string(v[len(e.Data):]), "\x00") == ""
			}
			switch e.Op {
			case expr.CmpOpEq:
				if !eq {
					return false
				}
			case expr.CmpOpNeq:
				if eq {
					return false
				}
			default:
				return false
			}
		case *expr.Counter, *expr.Verdict, *expr.Reject, *expr.Log:
		default:
			return false // a match the walk cannot evaluate
		}
	}
	return true
}
