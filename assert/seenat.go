package assert

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vtest-dev/vtest/scenario"
)

var seenAtDefaults = Options{Count: 3, Port: 9, Timeout: time.Second}

// seenAtReads are the options SeenAt reads.
const seenAtReads = readsCount | readsPort | readsTimeout | readsIPv6

// SeenAtResult is the evidence of a SeenAt check: how many of the check's
// own datagrams each watched interface carried (in or out), against the
// count wanted there.
type SeenAtResult struct {
	From string
	Dst  netip.AddrPort
	Sent int
	// Ends are the watched interfaces ("node:iface"), sorted.
	Ends []string
	Seen map[string]int
	Want map[string]int
	// Other is how many other frames each interface carried meanwhile
	// (ARP, neighbour discovery, other flows): not counted.
	Other map[string]int
}

// Evidence renders one line per interface.
func (r *SeenAtResult) Evidence() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s → %s: %d tagged UDP datagrams sent", r.From, r.Dst, r.Sent)
	for _, e := range r.Ends {
		mark := ""
		if r.Seen[e] != r.Want[e] {
			mark = "  ✗"
		}
		fmt.Fprintf(&b, "\n  %-20s saw %d, want %d (other frames %d)%s", e, r.Seen[e], r.Want[e], r.Other[e], mark)
	}
	return b.String()
}

// PacketsSeenAt sends Count (default 3) UDP datagrams from a node to dst
// (Port, default 9), each carrying a random tag, and counts at each
// interface of want ("node:iface" → count) the datagrams carrying the tag
// that crossed it, in either direction: the check's own packets, never
// the interfaces' counters, so ARP and other traffic do not count. A
// tagged datagram inside a tunnel (VXLAN, GRE) still carries the tag, so
// an underlay interface counts it too. It passes when every interface
// saw exactly its count: 0 says the traffic must not pass there, which
// catches traffic taking another path. It waits (Timeout, default 1 s)
// until every count is reached, then reads what is already queued; an
// interface whose count is 0 is judged on what it carried by then.
func PacketsSeenAt(ctx context.Context, from *scenario.Node, dst netip.Addr, want map[string]int, opts ...Option) (*SeenAtResult, error) {
	o, err := build(seenAtDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("seen at: %w", err)
	}
	if o.Count == 0 {
		o.Count = seenAtDefaults.Count
	}
	if o.Port == 0 {
		o.Port = seenAtDefaults.Port
	}
	if o.Timeout == 0 {
		o.Timeout = seenAtDefaults.Timeout
	}
	r := &SeenAtResult{From: from.Name(), Dst: netip.AddrPortFrom(dst, uint16(o.Port)), Ends: slices.Sorted(maps.Keys(want)),
		Seen: map[string]int{}, Want: maps.Clone(want), Other: map[string]int{}}
	if len(want) == 0 {
		return r, errors.New("seen at: name at least one interface")
	}
	// Group the interfaces by node: one tap per node.
	byNode := map[string][]string{}
	for _, e := range r.Ends {
		node, iface, ok := strings.Cut(e, ":")
		if !ok || iface == "" {
			return r, fmt.Errorf("seen at: %q is not node:interface", e)
		}
		if want[e] < 0 {
			return r, fmt.Errorf("seen at: count %d at %s is negative", want[e], e)
		}
		byNode[node] = append(byNode[node], iface)
	}
	var tag [16]byte
	rand.Read(tag[:])
	// An ICMP error (port unreachable from a destination that does not
	// listen) quotes the datagram, tag included: it is not the datagram.
	own := func(_ string, p gopacket.Packet, _ bool) bool {
		return bytes.Contains(p.Data(), tag[:]) && p.Layer(layers.LayerTypeICMPv4) == nil && p.Layer(layers.LayerTypeICMPv6) == nil
	}
	var taps []*tap
	defer func() {
		for _, t := range taps {
			t.close()
		}
	}()
	nodes := slices.Sorted(maps.Keys(byNode))
	for _, name := range nodes {
		nd, ok := from.Network().Lookup(name)
		if !ok {
			return r, fmt.Errorf("seen at: no node %q", name)
		}
		t, err := openTap(nd, byNode[name], own)
		if err != nil {
			return r, fmt.Errorf("seen at: %w", err)
		}
		taps = append(taps, t)
	}
	var c *net.UDPConn
	err = from.Do(func() (err error) {
		// Not connected: an ICMP error for one datagram must not fail the
		// next send with "connection refused".
		c, err = net.ListenUDP("udp", nil)
		return err
	})
	if err != nil {
		return r, fmt.Errorf("seen at: socket in %s: %w", from.Name(), err)
	}
	defer c.Close()
	var sendErrs []error
	for i := range o.Count {
		if _, err := c.WriteToUDPAddrPort(fmt.Appendf(tag[:], " vtest seen-at %d", i), r.Dst); err != nil {
			sendErrs = append(sendErrs, err)
			continue
		}
		r.Sent++
	}
	deadline := earliest(ctx, time.Now().Add(o.Timeout))
	var errs []error
	for i, t := range taps {
		node := nodes[i]
		counts, err := t.wait(deadline, func(c map[string]*ownCount) bool {
			for iface, n := range c {
				if w := want[node+":"+iface]; w > 0 && n.In+n.Out < w {
					return false
				}
			}
			return slices.ContainsFunc(byNode[node], func(i string) bool { return want[node+":"+i] > 0 })
		})
		errs = append(errs, err)
		for iface, n := range counts {
			r.Seen[node+":"+iface], r.Other[node+":"+iface] = n.In+n.Out, n.OtherIn+n.OtherOut
		}
	}
	taps = nil
	if err := errors.Join(errs...); err != nil {
		return r, fmt.Errorf("seen at: %w", err)
	}
	if r.Sent == 0 {
		return r, fmt.Errorf("seen at: %s could send none of its %d datagrams: %v", from.Name(), o.Count, errors.Join(sendErrs...))
	}
	var bad []string
	for _, e := range r.Ends {
		if r.Seen[e] != want[e] {
			bad = append(bad, fmt.Sprintf("%s saw %d, want %d", e, r.Seen[e], want[e]))
		}
	}
	if len(bad) > 0 {
		return r, fmt.Errorf("%s → %s: %s:\n%s", from.Name(), r.Dst, strings.Join(bad, "; "), r.Evidence())
	}
	return r, nil
}

// SeenAt is a scenario check: one send of Count tagged UDP datagrams from
// a node to a target, counted at several interfaces at once; see
// PacketsSeenAt. It reads Count, Port, Timeout and IPv6.
func SeenAt(from string, to Target, want map[string]int, opts ...Option) scenario.CheckFunc {
	want = maps.Clone(want)
	refs := names([]string{from}, to)
	refs.Ends = slices.Sorted(maps.Keys(want))
	for _, e := range refs.Ends {
		if want[e] < 0 {
			refs.Problems = append(refs.Problems, scenario.CheckProblem{Problem: fmt.Sprintf("assert.SeenAt: count %d at %s is negative", want[e], e), Fix: "use 0 (none may pass there) or more"})
		}
	}
	if len(want) == 0 {
		refs.Problems = append(refs.Problems, scenario.CheckProblem{Problem: "assert.SeenAt names no interface", Fix: `map "node:iface" to the count wanted there`})
	}
	return declare("SeenAt", seenAtReads, opts, refs, checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		src := n.Node(from)
		dst, err := resolveFor(n, src, to, opts)
		if err != nil {
			return nil, err
		}
		return PacketsSeenAt(ctx, src, dst, want, opts...)
	}))
}
