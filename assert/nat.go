package assert

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/scenario"
)

// SourceResult is the evidence of a check that sends a UDP datagram from
// one node to a listener in another and records the source address the
// listener saw: after NAT, the translated one.
type SourceResult struct {
	From, To string
	// Local is the sender's own socket address.
	Local netip.AddrPort
	// Dst is where the datagram was sent.
	Dst netip.AddrPort
	// Seen is the source the listener saw; invalid if nothing arrived.
	Seen netip.AddrPort
	// Want is the source expected, if any.
	Want netip.Addr
	// Replied says whether the listener's echo came back to the sender
	// (proving the reverse translation too).
	Replied bool
	// Conntrack is the router's connection-tracking entry for the flow,
	// when a NAT check looked it up.
	Conntrack string
	Elapsed   time.Duration
	// Walk is the path walk done when a NAT check failed.
	Walk *Walk
}

// Evidence renders the exchange.
func (r *SourceResult) Evidence() string {
	var b strings.Builder
	fmt.Fprintf(&b, "UDP %s (%s) → %s (%s): ", r.From, r.Local, r.To, r.Dst)
	if r.Seen.IsValid() {
		fmt.Fprintf(&b, "%s saw source %s", r.To, r.Seen.Addr())
	} else {
		fmt.Fprintf(&b, "%s received nothing", r.To)
	}
	if r.Want.IsValid() {
		fmt.Fprintf(&b, " (want %s)", r.Want)
	}
	fmt.Fprintf(&b, "; echo back to %s: %v", r.From, r.Replied)
	if r.Conntrack != "" {
		fmt.Fprintf(&b, "; conntrack: %s", r.Conntrack)
	}
	fmt.Fprintf(&b, "; took %s", ms(r.Elapsed))
	if r.Walk != nil {
		b.WriteString("\n" + r.Walk.Evidence())
	}
	return b.String()
}

var sourceDefaults = Options{Timeout: time.Second}

// SeenSource sends one UDP datagram from a node to a listener opened in to
// on dst (port Port, or a free one) and returns the source address the
// listener saw. The listener echoes the datagram so the result also says
// whether the way back works. It fails only if nothing arrived.
func SeenSource(ctx context.Context, from, to *scenario.Node, dst netip.Addr, opts ...Option) (*SourceResult, error) {
	o, err := build(sourceDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("udp: %w", err)
	}
	start := time.Now()
	r := &SourceResult{From: from.Name(), To: to.Name()}
	var srv, cli *net.UDPConn
	err = inside.Do(to, func() (err error) {
		srv, err = net.ListenUDP("udp", &net.UDPAddr{IP: dst.AsSlice(), Port: o.Port})
		return err
	})
	if err != nil {
		return r, fmt.Errorf("udp: listen on %s in %s: %w", dst, to.Name(), err)
	}
	defer srv.Close()
	r.Dst = srv.LocalAddr().(*net.UDPAddr).AddrPort()
	seen := make(chan netip.AddrPort, 1)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, src, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			select {
			case seen <- src:
			default:
			}
			_, _ = srv.WriteToUDPAddrPort(buf[:n], src)
		}
	}()
	err = inside.Do(from, func() (err error) {
		var laddr *net.UDPAddr
		if o.Source.IsValid() {
			laddr = &net.UDPAddr{IP: o.Source.AsSlice()}
		}
		cli, err = net.DialUDP("udp", laddr, net.UDPAddrFromAddrPort(r.Dst))
		return err
	})
	if err != nil {
		return r, fmt.Errorf("udp: socket in %s towards %s: %w", from.Name(), r.Dst, err)
	}
	defer cli.Close()
	r.Local = cli.LocalAddr().(*net.UDPAddr).AddrPort()
	deadline := earliest(ctx, start.Add(o.Timeout))
	_ = cli.SetDeadline(deadline)
	if _, err := cli.Write([]byte("vtest source probe")); err != nil {
		r.Elapsed = time.Since(start)
		return r, fmt.Errorf("udp: send from %s: %w: %s", from.Name(), err, r.Evidence())
	}
	// First what the listener saw, then whether the echo came back; each
	// waits until the same deadline.
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case s := <-seen:
		r.Seen = netip.AddrPortFrom(s.Addr().Unmap(), s.Port())
	case <-timer.C:
	case <-ctx.Done():
	}
	var rerr error
	if r.Seen.IsValid() {
		_, rerr = cli.Read(make([]byte, 1500))
		r.Replied = rerr == nil
	}
	r.Elapsed = time.Since(start)
	if !r.Seen.IsValid() {
		why := "no datagram arrived"
		var ne net.Error
		if rerr != nil && !(errors.As(rerr, &ne) && ne.Timeout()) {
			why += " (" + rerr.Error() + ")"
		}
		return r, fmt.Errorf("udp %s→%s: %s: %s", from.Name(), r.Dst, why, r.Evidence())
	}
	return r, nil
}

// judgeSource checks the source seen against want and the echo.
func judgeSource(r *SourceResult, want netip.Addr) error {
	r.Want = want
	if r.Seen.Addr() != want {
		return fmt.Errorf("%s saw source %s, want %s: %s", r.To, r.Seen.Addr(), want, r.Evidence())
	}
	if !r.Replied {
		return fmt.Errorf("%s saw the expected source but its reply did not come back: %s", r.To, r.Evidence())
	}
	return nil
}

// Masqueraded is a scenario check: a UDP datagram from inside to outside
// (node names) arrives with the NAT router's address on the outside segment
// as its source, and the reply comes back through the router.
func Masqueraded(inside, outside, router string) scenario.CheckFunc {
	return declare("Masqueraded", 0, nil, names([]string{inside, outside, router}), checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		in, out, rt := n.Node(inside), n.Node(outside), n.Node(router)
		dst, err := resolve(n, in, out, false)
		if err != nil {
			return nil, err
		}
		want := rt.AddrOn(dst)
		if !want.IsValid() {
			return nil, fmt.Errorf("router %q shares no segment with %s", router, dst)
		}
		r, err := SeenSource(ctx, in, out, dst)
		if r != nil {
			r.Want = want
			r.Conntrack = conntrackEntry(rt, r.Local, r.Dst)
		}
		if err == nil {
			err = judgeSource(r, want)
		}
		if err != nil && r != nil {
			r.Walk = WalkPath(in, dst)
		}
		return r, err
	}))
}

// conntrackEntry describes the router's conntrack entry for the UDP flow
// local → dst, read through a netfilter netlink socket in its namespace.
func conntrackEntry(router *scenario.Node, local, dst netip.AddrPort) string {
	ns, err := netns.GetFromPath(fmt.Sprintf("/proc/self/fd/%d", inside.NamespaceFd(router)))
	if err != nil {
		return "unreadable: " + err.Error()
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_NETFILTER)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	defer h.Close()
	flows, err := h.ConntrackTableList(netlink.ConntrackTable, netlink.FAMILY_V4)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	for _, f := range flows {
		fw, rv := f.Forward, f.Reverse
		if fw.Protocol == unix.IPPROTO_UDP && fw.SrcIP.Equal(local.Addr().AsSlice()) && fw.SrcPort == local.Port() && fw.DstPort == dst.Port() {
			return fmt.Sprintf("udp %s:%d→%s:%d reply %s:%d→%s:%d", fw.SrcIP, fw.SrcPort, fw.DstIP, fw.DstPort, rv.SrcIP, rv.SrcPort, rv.DstIP, rv.DstPort)
		}
	}
	return "no entry"
}

// SourceIs fails the test unless a UDP datagram from → to:dst arrives with
// source want and the echo comes back.
//
// Deprecated: use assert.Check(t, n, assert.SeenAs(…)).
func SourceIs(t TestingT, from, to *scenario.Node, dst, want netip.Addr, opts ...Option) bool {
	helper(t).Helper()
	return Check(t, from.Network(), SeenAs(from.Name(), dst, want.String(), opts...)) // to owns dst: it listens there
}
