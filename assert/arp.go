package assert

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/mdlayher/arp"
	"github.com/vishvananda/netlink"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/scenario"
)

// ARPResult is the evidence of an ARP check.
type ARPResult struct {
	From      string
	Interface string
	Target    netip.Addr
	// Requests is the number of ARP requests sent.
	Requests int
	// SendErr says why a request could not be sent (e.g. the link is
	// down), in which case no reply can come.
	SendErr string
	// MAC is the hardware address in the reply, nil if none came.
	MAC net.HardwareAddr
	// Want is the MAC of the interface that owns Target in the scenario,
	// if known, or the one the check's MAC option names.
	Want net.HardwareAddr
	// WantOf is what the MAC option named ("c1:mv0"), or "" when Want is
	// the owner's.
	WantOf string
	// Neighbour is the requester's neighbour-table entry for Target after
	// the exchange ("none" if there is none). A raw ARP exchange does not
	// create one; the kernel's own resolution does.
	Neighbour string
	// PreinstalledNeighbours is set when the scenario pre-installed its
	// neighbour entries (Spec.PreinstallNeighbours): the check then tests
	// the target's ARP responder with its own request only.
	PreinstalledNeighbours bool
	Elapsed                time.Duration
}

// Evidence renders the exchange.
func (r *ARPResult) Evidence() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ARP who-has %s on %s:%s: %d request(s), ", r.Target, r.From, r.Interface, r.Requests)
	if r.SendErr != "" {
		fmt.Fprintf(&b, "request not sent (%s), no reply", r.SendErr)
	} else if r.MAC != nil {
		fmt.Fprintf(&b, "reply %s is-at %s", r.Target, r.MAC)
	} else {
		b.WriteString("no reply")
	}
	switch {
	case r.Want != nil && r.WantOf != "":
		fmt.Fprintf(&b, " (want %s's MAC %s)", r.WantOf, r.Want)
	case r.Want != nil:
		fmt.Fprintf(&b, " (owner's MAC %s)", r.Want)
	}
	fmt.Fprintf(&b, "; neighbour entry: %s; took %s", r.Neighbour, ms(r.Elapsed))
	if r.PreinstalledNeighbours {
		b.WriteString("; neighbours pre-installed: this tests the target's ARP answer to the check's own request, not the kernel's address resolution, which the scenario never exercises")
	}
	return b.String()
}

var arpDefaults = Options{Count: 3, Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond}

// ARP sends ARP requests for target out of iface of a node (a raw AF_PACKET
// socket opened in the node) and waits for a reply: up to Count requests
// (default 3), Interval apart (100 ms), within Timeout (300 ms). It returns
// the MAC seen, or a nil MAC if no reply came; the error is only for a check
// that could not run.
func ARP(ctx context.Context, from *scenario.Node, iface string, target netip.Addr, opts ...Option) (*ARPResult, error) {
	o, err := build(arpDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("arp: %w", err)
	}
	if !target.Is4() {
		return nil, fmt.Errorf("arp: %s is not an IPv4 address (IPv6 uses neighbour discovery)", target)
	}
	start := time.Now()
	r := &ARPResult{From: from.Name(), Interface: iface, Target: target}
	if n := from.Network(); n != nil {
		r.PreinstalledNeighbours = n.Spec().NeighboursPreinstalled()
	}
	var c *arp.Client
	err = inside.Do(from, func() error {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		c, err = arp.Dial(ifi)
		return err
	})
	if err != nil {
		return r, fmt.Errorf("arp: open socket on %s:%s: %w", from.Name(), iface, err)
	}
	defer c.Close()
	deadline := earliest(ctx, start.Add(o.Timeout))
	for r.Requests < max(o.Count, 1) && time.Now().Before(deadline) {
		if err := c.Request(target); err != nil {
			// ENOBUFS/ENETDOWN when the link is down: a state of the
			// network, not a failure to run the check.
			r.SendErr = err.Error()
			break
		}
		r.Requests++
		next := time.Now().Add(o.Interval)
		if r.Requests >= o.Count || next.After(deadline) {
			next = deadline
		}
		if mac := readReply(c, target, next); mac != nil {
			r.MAC = mac
			break
		}
	}
	r.Elapsed = time.Since(start)
	r.Neighbour = neighbour(from, iface, target)
	return r, ctx.Err()
}

func readReply(c *arp.Client, target netip.Addr, until time.Time) net.HardwareAddr {
	if err := c.SetReadDeadline(until); err != nil {
		return nil
	}
	for {
		p, _, err := c.Read()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			continue // a frame that is not ARP
		}
		if p.Operation == arp.OperationReply && p.SenderIP == target {
			return p.SenderHardwareAddr
		}
	}
}

func neighbour(nd *scenario.Node, iface string, ip netip.Addr) string {
	ifc := nd.Interface(iface)
	if ifc == nil || nd.Netlink() == nil {
		return "unknown"
	}
	neighs, err := nd.Netlink().NeighList(ifc.Index, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Sprintf("unreadable (%v)", err)
	}
	for _, ne := range neighs {
		if a, ok := netip.AddrFromSlice(ne.IP); ok && a.Unmap() == ip {
			return fmt.Sprintf("%s lladdr %s", scenario.NeighState(ne.State), ne.HardwareAddr)
		}
	}
	return "none"
}

// owner finds the interface that holds ip in the network.
func owner(n *scenario.Network, ip netip.Addr) *scenario.Interface {
	for _, nd := range n.Nodes() {
		for _, ifc := range nd.Interfaces() {
			for _, a := range ifc.Addrs {
				if a.Addr() == ip {
					return ifc
				}
			}
		}
	}
	return nil
}

// arpIface picks the interface of from that faces ip: the one whose subnet
// holds ip but which does not own ip itself.
func arpIface(from *scenario.Node, ip netip.Addr) (string, error) {
	for _, ifc := range from.Interfaces() {
		for _, a := range ifc.Addrs {
			if a.Contains(ip) && a.Addr() != ip {
				return ifc.Name, nil
			}
		}
	}
	return "", fmt.Errorf("node %q has no interface on the subnet of %s", from.Name(), ip)
}

func arpCheck(n *scenario.Network, ctx context.Context, from string, to Target, answered bool, opts []Option) (Evidencer, error) {
	src := n.Node(from)
	o, _ := build(Options{}, opts)
	dst, err := resolve(n, src, to, false)
	if err != nil {
		return nil, err
	}
	iface := o.Interface
	if iface == "" {
		if iface, err = arpIface(src, dst); err != nil {
			return nil, err
		}
	}
	r, err := ARP(ctx, src, iface, dst, opts...)
	if err != nil {
		return r, err
	}
	if ow := owner(n, dst); ow != nil {
		r.Want = ow.MAC
	}
	if o.MAC != "" {
		if r.Want, err = macOf(n, o.MAC); err != nil {
			return r, err
		}
		r.WantOf = o.MAC
	}
	return r, judgeARP(r, answered)
}

func judgeARP(r *ARPResult, answered bool) error {
	switch {
	case answered && r.MAC == nil:
		return fmt.Errorf("ARP for %s was not answered: %s", r.Target, r.Evidence())
	case answered && r.Want != nil && r.MAC.String() != r.Want.String():
		return fmt.Errorf("ARP for %s answered by the wrong MAC %s, want %s: %s", r.Target, r.MAC, r.Want, r.Evidence())
	case !answered && r.MAC != nil:
		return fmt.Errorf("ARP for %s was answered, want no answer: %s", r.Target, r.Evidence())
	}
	return nil
}

// ARPAnswered is a scenario check: an ARP request from a node for to's
// address is answered with the MAC of the interface that owns the address,
// or with the one MAC names ("02:00:00:00:00:01", or "node:iface" for that
// interface's: an ipvlan answers with its parent's). Via selects the
// interface to ask on; by default the one facing the target.
func ARPAnswered(from string, to Target, opts ...Option) scenario.CheckFunc {
	return declare("ARPAnswered", arpReads|readsMAC, opts, names([]string{from}, to), checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		return arpCheck(n, ctx, from, to, true, opts)
	}))
}

// ARPUnanswered is a scenario check: an ARP request from a node for to's
// address gets no reply within the timeout.
func ARPUnanswered(from string, to Target, opts ...Option) scenario.CheckFunc {
	return declare("ARPUnanswered", arpReads, opts, names([]string{from}, to), checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		return arpCheck(n, ctx, from, to, false, opts)
	}))
}

// ARPResolves fails the test unless an ARP request from a node for ip is
// answered (with want's MAC, if want is not nil).
//
// Deprecated: use assert.Check(t, n, assert.ARPAnswered(…)).
func ARPResolves(t TestingT, from *scenario.Node, iface string, ip netip.Addr, want net.HardwareAddr, opts ...Option) bool {
	helper(t).Helper()
	r, err := ARP(nodeContext(t), from, iface, ip, opts...)
	if err == nil {
		r.Want = want
		err = judgeARP(r, true)
	}
	return report(t, r, err)
}

// ARPIgnored fails the test if an ARP request from a node for ip is
// answered.
//
// Deprecated: use assert.Check(t, n, assert.ARPUnanswered(…)).
func ARPIgnored(t TestingT, from *scenario.Node, iface string, ip netip.Addr, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, from.Network(), ARPUnanswered(from.Name(), ip, append(opts, Via(iface))...))
}
