package assert

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/scenario"
)

// Every failing traffic check ends with the path walk, so a failure names
// the first place the network breaks, not only what the traffic saw. The
// checks that carry the walk in their own result (Reach, Forwarded,
// Masqueraded, Walked) are left as they are.

// walkedChecks are the checks made with named whose failures end with the
// walk of their source and target.
var walkedChecks = map[string]bool{
	"NoReach": true, "Firewall": true, "Rate": true, "Spread": true,
	"Connects": true, "Echoes": true, "UDPStream": true, "LatencyWithin": true,
}

// walkMarker starts a walk's evidence (see Walk.Evidence): evidence that
// has it already carries a walk.
const walkMarker = "path walk "

// endWithWalk wraps a traffic check from → to: when it fails (not when it
// is skipped or inconclusive), its evidence ends with the walk from → to,
// and note, when given, adds what else the network says about the
// failure (where DNAT sent the connection, the receiver's drops).
func endWithWalk(from string, to Target, opts []Option, c scenario.CheckFunc, note func(n *scenario.Network, src *scenario.Node, dst netip.Addr) string) scenario.CheckFunc {
	return func(ctx context.Context, n *scenario.Network) scenario.Result {
		res := c(ctx, n)
		if res.Err == nil || res.Skip != "" || strings.Contains(res.Evidence, walkMarker) {
			return res
		}
		src, ok := n.Lookup(from)
		if !ok {
			return res
		}
		dst, err := resolveFor(n, src, to, opts)
		if err != nil {
			return res
		}
		var w *Walk
		res.Evidence, w = appendWalk(res.Evidence, n, src, dst, note)
		// Nothing in the network's state stops the traffic: when the
		// target itself refused, say where to look instead.
		if ae := (*AttemptError)(nil); w.Break == "" && errors.As(res.Err, &ae) && ae.Verdict == Refused {
			res.Evidence += "\n" + fmt.Sprintf(refusedByTarget, dst)
		}
		return res
	}
}

// refusedByTarget ends a refused connection's evidence when the walk finds
// the path intact both ways.
const refusedByTarget = "the path is intact both ways and %s itself refused: nothing listens on that port there (or a rule of its own rejects it)"

// appendWalk adds note's text and the walk src → dst to evidence, and
// returns the walk too.
func appendWalk(evidence string, n *scenario.Network, src *scenario.Node, dst netip.Addr, note func(n *scenario.Network, src *scenario.Node, dst netip.Addr) string) (string, *Walk) {
	var parts []string
	if evidence != "" {
		parts = append(parts, evidence)
	}
	if note != nil {
		if s := note(n, src, dst); s != "" {
			parts = append(parts, s)
		}
	}
	w := WalkPath(src, dst)
	parts = append(parts, w.Evidence())
	return strings.Join(parts, "\n"), w
}

// walkNamed is the walk hook of named: the checks in walkedChecks end a
// failure with the walk.
func walkNamed(name, from string, to Target, opts []Option, c scenario.CheckFunc) scenario.CheckFunc {
	if !walkedChecks[name] {
		return c
	}
	return endWithWalk(from, to, opts, c, nil)
}

// dnatNote says where the DNAT router (the owner of dst) sent the check's
// TCP connections to dst:port, from its conntrack table.
func dnatNote(port int) func(n *scenario.Network, src *scenario.Node, dst netip.Addr) string {
	return func(n *scenario.Network, src *scenario.Node, dst netip.Addr) string {
		router := ownerNode(n, dst)
		if router == nil {
			return ""
		}
		flows, err := conntrackFlows(router, dst.Is6())
		if err != nil {
			return fmt.Sprintf("conntrack of %s unreadable: %v", router.Name(), err)
		}
		for _, f := range flows {
			fw, rv := f.Forward, f.Reverse
			if fw.Protocol != unix.IPPROTO_TCP || !fw.DstIP.Equal(dst.AsSlice()) || fw.DstPort != uint16(port) {
				continue
			}
			if !fw.DstIP.Equal(rv.SrcIP) || fw.DstPort != rv.SrcPort {
				return fmt.Sprintf("DNAT at %s sent it to %s (conntrack: tcp %s:%d→%s:%d reply %s:%d→%s:%d)",
					router.Name(), netip.AddrPortFrom(addrOf(rv.SrcIP), rv.SrcPort),
					fw.SrcIP, fw.SrcPort, fw.DstIP, fw.DstPort, rv.SrcIP, rv.SrcPort, rv.DstIP, rv.DstPort)
			}
			return fmt.Sprintf("no DNAT at %s: conntrack has tcp %s:%d→%s:%d untranslated", router.Name(), fw.SrcIP, fw.SrcPort, fw.DstIP, fw.DstPort)
		}
		if r := dnatRule(n, router, port); r != "" {
			return r
		}
		return fmt.Sprintf("no DNAT at %s: conntrack has no TCP entry for %s", router.Name(), netip.AddrPortFrom(dst, uint16(port)))
	}
}

// dnatRule names the DNAT rule of router for TCP port and where it sends
// the connection, with its counter: conntrack forgets a connection whose
// only answer was a reset, so the rule is what is left to read.
func dnatRule(n *scenario.Network, router *scenario.Node, port int) string {
	spec := specNode(n, router.Name())
	if spec == nil {
		return ""
	}
	for _, r := range spec.NATRules() {
		if r.Action != scenario.DNAT || (r.Proto != "" && r.Proto != "tcp") || (r.DPort != "" && r.DPort != fmt.Sprint(port)) {
			continue
		}
		note := ""
		if r.Name != "" {
			note = " (rule " + r.Name
			if c, err := router.RuleCounter(r.Name); err == nil {
				note += fmt.Sprintf(", matched %d packets", c.Packets)
			}
			note += "; no conntrack entry left: the only answer was a reset, or none came)"
		}
		return fmt.Sprintf("DNAT at %s sent it to %s%s", router.Name(), r.To, note)
	}
	return ""
}

func addrOf(ip []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// framesWalk wraps the Frames check: a failure where frames were expected
// ends with the receiving interface's rx drop counters and reverse-path
// filter, and the walk from the sender to the frame's destination.
func framesWalk(from string, f Frame, at string, opts []Option, c scenario.CheckFunc) scenario.CheckFunc {
	return func(ctx context.Context, n *scenario.Network) scenario.Result {
		res := c(ctx, n)
		o, _ := build(framesDefaults, opts)
		if res.Err == nil || res.Skip != "" || o.Expect == NoFrames || strings.Contains(res.Evidence, walkMarker) {
			return res
		}
		var notes []string
		if res.Evidence != "" {
			notes = append(notes, res.Evidence)
		}
		if atNode, atIface, err := splitEnd(n, at); err == nil {
			notes = append(notes, receiverState(atNode, atIface))
		}
		src, _, err := splitEnd(n, from)
		if err == nil {
			if dst, err := resolve(n, src, f.Dst, false); err == nil && !owns(src, dst) {
				notes = append(notes, WalkPath(src, dst).Evidence())
			}
		}
		res.Evidence = strings.Join(notes, "\n")
		return res
	}
}

// receiverState is the rx drop counters and the reverse-path filter of
// the interface frames should arrive at.
func receiverState(nd *scenario.Node, iface string) string {
	s := fmt.Sprintf("receiver %s:%s:", nd.Name(), iface)
	if l, err := nd.Netlink().LinkByName(iface); err == nil && l.Attrs().Statistics != nil {
		st := l.Attrs().Statistics
		s += fmt.Sprintf(" rx packets %d, rx dropped %d, rx errors %d", st.RxPackets, st.RxDropped, st.RxErrors)
	} else if err != nil {
		s += " " + err.Error()
	}
	all, _ := nd.Sysctl("net.ipv4.conf.all.rp_filter")
	one, _ := nd.Sysctl("net.ipv4.conf." + iface + ".rp_filter")
	all, one = strings.TrimSpace(all), strings.TrimSpace(one)
	if all != "" || one != "" {
		s += fmt.Sprintf("; rp_filter %s (all %s", orNone(one), orNone(all))
		if rp := max(all, one); rp != "0" && rp != "" {
			s += ": the kernel drops packets whose source it would not route back out of " + iface
			if rp == "1" {
				s += " (strict)"
			}
		}
		s += ")"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "unreadable"
	}
	return s
}
