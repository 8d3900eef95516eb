package scenario

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/nsx"
)

// The built-in actions. Each is declarative: its arguments name nodes
// ("r1") and interfaces ("r1:eth1") of the scenario and are validated with
// the topology; each runs through the node's netlink handle and returns
// once the kernel has applied it. Use them as steps:
//
//	s.Step("uplink down", scenario.LinkDown("r1:eth1"))
//
// or directly from go test with Network.Apply.

// stepTimeout bounds the waits of an action whose context has no deadline.
const stepTimeout = 10 * time.Second

// LinkDown sets an interface ("node:iface") administratively down and
// returns once the kernel has acted on it: the interface reports
// operstate down, and its veth peer, when it had a carrier, has lost it —
// the kernel notified the peer's new operstate, which it does after
// evicting the peer's neighbours and disabling its bridge port
// (net/core/dev.c: netdev_state_change). A check right after it reads the
// new state. The step's evidence says how long each took.
func LinkDown(end string) Action { return linkState{end: end, up: false} }

// LinkUp sets an interface administratively up and, when its veth peer is
// up too, returns once the kernel has acted on both ends' carrier: it
// notified their operstate up (after attaching their qdiscs and enabling
// their bridge ports).
func LinkUp(end string) Action { return linkState{end: end, up: true} }

type linkState struct {
	end string
	up  bool
}

func (a linkState) String() string {
	if a.up {
		return "set " + a.end + " up"
	}
	return "set " + a.end + " down"
}

func (a linkState) validate(v *validator, p *plan, obj string) { v.end(p, obj, a.end) }

func (a linkState) Run(ctx context.Context, n *Network) error {
	_, err := a.report(ctx, n)
	return err
}

// report applies the state and says what the kernel reported, and when.
func (a linkState) report(ctx context.Context, n *Network) (string, error) {
	nd, ifc, l, err := n.end(a.end)
	if err != nil {
		return "", err
	}
	verb := "down"
	if a.up {
		verb = "up"
	}
	fail := func(err error) (string, error) { return "", fmt.Errorf("set %s %s: %w", a.end, verb, err) }
	start := time.Now()
	peer, pi, pl := n.vethPeer(ifc)
	peerEnd := ifc.PeerNode + ":" + ifc.PeerInterface
	// The ends whose carrier the change moves, watched from before the
	// change so that the kernel's notification cannot be missed: going
	// down, the peer if it has a carrier; going up, both ends if the peer
	// is administratively up (else neither gets a carrier).
	type watched struct {
		nd   *Node
		ifc  *Interface
		name string
		w    *linkWatch
	}
	var ends []*watched
	switch {
	case pl == nil:
	case !a.up && pl.Attrs().Flags&net.FlagUp != 0 && pl.Attrs().RawFlags&unix.IFF_LOWER_UP != 0:
		ends = []*watched{{nd: peer, ifc: pi, name: peerEnd}}
	case a.up && pl.Attrs().Flags&net.FlagUp != 0 && !(l.Attrs().Flags&net.FlagUp != 0 && lowerUp(l)):
		ends = []*watched{{nd: nd, ifc: ifc, name: a.end}, {nd: peer, ifc: pi, name: peerEnd}}
	}
	for _, e := range ends {
		if e.w, err = e.nd.watchLinks(); err != nil {
			return fail(err)
		}
		defer e.w.close()
	}
	if a.up {
		err = nd.nl.LinkSetUp(l)
	} else {
		err = nd.nl.LinkSetDown(l)
	}
	if err != nil {
		return fail(err)
	}
	// Read the end back. Going down, the request returns once the kernel
	// closed it and flushed its neighbours: it reports operstate down.
	if l, err = nd.nl.LinkByIndex(ifc.Index); err != nil {
		return fail(fmt.Errorf("read it back: %w", err))
	}
	if !a.up && (l.Attrs().Flags&net.FlagUp != 0 || lowerUp(l)) {
		return fail(fmt.Errorf("the kernel still reports it up (operstate %s)", l.Attrs().OperState))
	}
	var ev []string
	if len(ends) == 0 || !a.up {
		ev = append(ev, fmt.Sprintf("%s %s (operstate %s) after %s", a.end, verb, l.Attrs().OperState, ms(time.Since(start))))
	}
	if a.up && pl != nil && pl.Attrs().Flags&net.FlagUp == 0 {
		ev = append(ev, fmt.Sprintf("no carrier: its peer %s is administratively down", peerEnd))
	}
	// The kernel acts on a carrier change in its linkwatch work, rate
	// limited to once a second unless the event is urgent. Kernels whose
	// RTM_GETLINK syncs linkwatch for the link asked about (rtnl_getlink:
	// linkwatch_sync_dev) act at once when the link is read; older ones
	// within the second. Either way the notification awaited comes after
	// the kernel has acted.
	ctx, cancel := withStepTimeout(ctx)
	defer cancel()
	for _, e := range ends {
		_, _ = e.nd.nl.LinkByIndex(e.ifc.Index)
		ok := func(l netlink.Link) bool { return lowerUp(l) }
		what := "has its carrier"
		if !a.up {
			ok = func(l netlink.Link) bool { return !lowerUp(l) && l.Attrs().RawFlags&unix.IFF_LOWER_UP == 0 }
			what = "lost its carrier"
		}
		el, how, err := e.w.await(ctx, e.ifc.Index, ok)
		if err != nil {
			return strings.Join(ev, "; "), fmt.Errorf("set %s %s: %s: not notified that it %s: %w", a.end, verb, e.name, what, err)
		}
		if a.up {
			e.ifc.MAC = el.Attrs().HardwareAddr
		}
		ev = append(ev, fmt.Sprintf("%s %s (operstate %s, %s) after %s", e.name, what, el.Attrs().OperState, how, ms(time.Since(start))))
	}
	return strings.Join(ev, "; "), nil
}

// vethPeer returns the veth peer of an interface, and its state, when
// the peer is a node's interface in the scenario.
func (n *Network) vethPeer(ifc *Interface) (*Node, *Interface, netlink.Link) {
	if ifc.PeerNode == "" {
		return nil, nil, nil
	}
	peer, ok := n.Lookup(ifc.PeerNode)
	if !ok {
		return nil, nil, nil
	}
	pi := peer.Interface(ifc.PeerInterface)
	if pi == nil {
		return nil, nil, nil
	}
	pl, err := peer.nl.LinkByIndex(pi.Index)
	if err != nil {
		return nil, nil, nil
	}
	return peer, pi, pl
}

// ms renders a duration in milliseconds, as step evidence does.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond))
}

// withStepTimeout bounds ctx by stepTimeout unless it has a deadline.
func withStepTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, stepTimeout)
}

// linkWatch receives a node's link notifications (RTNLGRP_LINK). The
// kernel acts on a carrier change in its linkwatch work, which runs up to
// a second after the change: it sets the operstate, runs the
// NETDEV_CHANGE notifiers (neighbour eviction, bridge port state) and
// only then sends RTM_NEWLINK. Waiting for that message, rather than
// reading IFF_LOWER_UP (which changes at once) or polling the operstate
// (set before the notifiers run), returns once the kernel has acted.
type linkWatch struct {
	nd *Node
	s  *nl.NetlinkSocket
}

// watchLinks subscribes to the node's link notifications.
func (nd *Node) watchLinks() (*linkWatch, error) {
	var s *nl.NetlinkSocket
	err := nd.do(func() error {
		var err error
		s, err = nl.Subscribe(unix.NETLINK_ROUTE, unix.RTNLGRP_LINK)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("watch the links of %q: %w", nd.name, err)
	}
	return &linkWatch{nd: nd, s: s}, nil
}

func (w *linkWatch) close() { w.s.Close() }

// await returns the link once the kernel notifies a state of interface
// index that ok accepts, and how it learnt it. If notifications were lost
// (the socket overran), it falls back to reading the state until ok
// accepts it. At the deadline it fails with the state last read.
func (w *linkWatch) await(ctx context.Context, index int, ok func(netlink.Link) bool) (netlink.Link, string, error) {
	for {
		wait := 50 * time.Millisecond // wakes up to notice a cancelled ctx
		if dl, has := ctx.Deadline(); has {
			wait = min(wait, time.Until(dl))
		}
		if wait <= 0 || ctx.Err() != nil {
			return nil, "", w.timeout(ctx, index)
		}
		tv := unix.NsecToTimeval(wait.Nanoseconds())
		if err := w.s.SetReceiveTimeout(&tv); err != nil {
			return nil, "", err
		}
		msgs, from, err := w.s.Receive()
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS):
			l, err := w.poll(ctx, index, ok)
			return l, "read back after lost notifications", err
		case err != nil:
			return nil, "", fmt.Errorf("read the link notifications of %q: %w", w.nd.name, err)
		case from.Pid != nl.PidKernel:
			continue
		}
		for _, m := range msgs {
			// Only the device's own notification (AF_UNSPEC): a bridge
			// also sends AF_BRIDGE ones for its ports, from inside the
			// notifiers, before they have all run.
			if m.Header.Type != unix.RTM_NEWLINK || len(m.Data) < unix.SizeofIfInfomsg || nl.DeserializeIfInfomsg(m.Data).Family != unix.AF_UNSPEC {
				continue
			}
			hdr := unix.NlMsghdr(m.Header)
			l, err := netlink.LinkDeserialize(&hdr, m.Data)
			if err == nil && l.Attrs().Index == index && ok(l) {
				return l, "notified", nil
			}
		}
	}
}

func (w *linkWatch) poll(ctx context.Context, index int, ok func(netlink.Link) bool) (netlink.Link, error) {
	var last netlink.Link
	err := poll(ctx, func() (bool, error) {
		l, err := w.nd.nl.LinkByIndex(index)
		if err != nil {
			return false, err
		}
		last = l
		return ok(l), nil
	})
	if err != nil {
		return nil, w.timeout(ctx, index)
	}
	return last, nil
}

func (w *linkWatch) timeout(ctx context.Context, index int) error {
	state := "unreadable"
	if l, err := w.nd.nl.LinkByIndex(index); err == nil {
		a := l.Attrs()
		state = fmt.Sprintf("operstate %s, carrier %v", a.OperState, a.RawFlags&unix.IFF_LOWER_UP != 0)
	}
	cause := ctx.Err()
	if cause == nil {
		cause = context.DeadlineExceeded
	}
	return fmt.Errorf("still %s: %w", state, cause)
}

// LinkDelete deletes an interface; deleting one end of a veth pair deletes
// both.
func LinkDelete(end string) Action { return linkDelete{end} }

type linkDelete struct{ end string }

func (a linkDelete) String() string                             { return "delete " + a.end }
func (a linkDelete) validate(v *validator, p *plan, obj string) { v.end(p, obj, a.end) }
func (a linkDelete) Run(ctx context.Context, n *Network) error {
	nd, ifc, l, err := n.end(a.end)
	if err != nil {
		return err
	}
	if err := nd.nl.LinkDel(l); err != nil {
		return fmt.Errorf("delete %s: %w", a.end, err)
	}
	nd.forget(ifc.Name)
	if peer, ok := n.Lookup(ifc.PeerNode); ok {
		peer.forget(ifc.PeerInterface)
	}
	return nil
}

func (nd *Node) forget(iface string) {
	nd.ifaces = slices.DeleteFunc(nd.ifaces, func(i *Interface) bool { return i.Name == iface })
}

// Flap takes an interface down and up again times times, spending half of
// period down and half up, each half counted from when the kernel has
// acted on the change (see LinkDown and LinkUp); it returns once the link
// is up again.
func Flap(end string, times int, period time.Duration) Action {
	return flap{end: end, times: times, period: period}
}

type flap struct {
	end    string
	times  int
	period time.Duration
}

func (a flap) String() string {
	return fmt.Sprintf("flap %s %d times, period %v", a.end, a.times, a.period)
}

func (a flap) validate(v *validator, p *plan, obj string) {
	v.end(p, obj, a.end)
	if a.times < 1 || a.times > 1000 {
		v.add(obj, "flap count %d is out of range", "flap 1..1000 times", a.times)
	}
	if a.period <= 0 || a.period > time.Minute {
		v.add(obj, "flap period %v is out of range", "use a period between 1ns and 1m", a.period)
	}
}

func (a flap) Run(ctx context.Context, n *Network) error {
	_, err := a.report(ctx, n)
	return err
}

// report flaps the link; each half period starts once the kernel has
// acted on the change (the peer lost or regained its carrier), so that
// every flap is seen by the peer however short the period.
func (a flap) report(ctx context.Context, n *Network) (string, error) {
	var last string
	for i := range a.times {
		down, err := (linkState{end: a.end}).report(ctx, n)
		if err != nil {
			return last, err
		}
		if err := sleep(ctx, a.period/2); err != nil {
			return last, fmt.Errorf("flap %s: interrupted at flap %d: %w", a.end, i+1, err)
		}
		up, err := (linkState{end: a.end, up: true}).report(ctx, n)
		if err != nil {
			return last, err
		}
		last = fmt.Sprintf("last flap: %s; %s", down, up)
		if i < a.times-1 {
			if err := sleep(ctx, a.period-a.period/2); err != nil {
				return last, fmt.Errorf("flap %s: interrupted at flap %d: %w", a.end, i+1, err)
			}
		}
	}
	return last, nil
}

// sleep waits d, which is the point of the action (a flap's period), not a
// stand-in for readiness.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// SetMTU sets an interface's MTU.
func SetMTU(end string, mtu int) Action { return setMTU{end, mtu} }

type setMTU struct {
	end string
	mtu int
}

func (a setMTU) String() string { return fmt.Sprintf("set MTU of %s to %d", a.end, a.mtu) }

func (a setMTU) validate(v *validator, p *plan, obj string) {
	v.end(p, obj, a.end)
	if !validMTU(a.mtu) {
		v.add(obj, "MTU %d is out of range", fmt.Sprintf("use %d..%d", minMTU, maxMTU), a.mtu)
	}
}

func (a setMTU) Run(ctx context.Context, n *Network) error {
	nd, _, l, err := n.end(a.end)
	if err != nil {
		return err
	}
	if err := nd.nl.LinkSetMTU(l, a.mtu); err != nil {
		return fmt.Errorf("set MTU of %s to %d: %w", a.end, a.mtu, err)
	}
	return nil
}

// AddAddr adds an address ("10.0.0.9/24") to an interface.
func AddAddr(end, cidr string) Action { return addrAction{end: end, cidr: cidr, add: true} }

// DelAddr deletes an address from an interface.
func DelAddr(end, cidr string) Action { return addrAction{end: end, cidr: cidr} }

type addrAction struct {
	end, cidr string
	add       bool
}

func (a addrAction) String() string {
	if a.add {
		return fmt.Sprintf("add address %s to %s", a.cidr, a.end)
	}
	return fmt.Sprintf("delete address %s from %s", a.cidr, a.end)
}

func (a addrAction) validate(v *validator, p *plan, obj string) {
	v.end(p, obj, a.end)
	v.prefix(obj, a.cidr, false)
}

func (a addrAction) Run(ctx context.Context, n *Network) error {
	nd, ifc, l, err := n.end(a.end)
	if err != nil {
		return err
	}
	pfx, err := netip.ParsePrefix(a.cidr)
	if err != nil {
		return fmt.Errorf("%s: %w", a, err)
	}
	na := &netlink.Addr{IPNet: ipNet(pfx)}
	if !a.add {
		if err := nd.nl.AddrDel(l, na); err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
		ifc.Addrs = slices.DeleteFunc(ifc.Addrs, func(p netip.Prefix) bool { return p == pfx })
		return nil
	}
	if pfx.Addr().Is6() {
		na.Flags = unix.IFA_F_NODAD
	}
	if err := nd.nl.AddrAdd(l, na); err != nil {
		return fmt.Errorf("%s: %w", a, err)
	}
	ifc.Addrs = append(ifc.Addrs, pfx)
	return nil
}

// AddRoute adds a route to a node: dst is "default" or a CIDR, via a
// gateway address or the name of a node sharing a segment with it.
func AddRoute(node, dst, via string) Action {
	return routeAction{op: "add", node: node, dst: dst, via: via}
}

// ReplaceRoute adds a route or replaces the one to the same destination.
func ReplaceRoute(node, dst, via string) Action {
	return routeAction{op: "replace", node: node, dst: dst, via: via}
}

// DelRoute deletes a node's route to dst ("default" deletes the default
// routes of both families that exist).
func DelRoute(node, dst string) Action { return routeAction{op: "delete", node: node, dst: dst} }

type routeAction struct {
	op, node, dst, via string
}

func (a routeAction) String() string {
	s := fmt.Sprintf("%s route %s on %s", a.op, a.dst, a.node)
	if a.via != "" {
		s += " via " + a.via
	}
	return s
}

func (a routeAction) validate(v *validator, p *plan, obj string) {
	pn := v.node(p, obj, a.node)
	if a.dst != "default" {
		v.prefix(obj, a.dst, true)
	}
	if a.op == "delete" {
		return
	}
	if _, err := netip.ParseAddr(a.via); err == nil {
		return
	}
	g := p.node(a.via)
	switch {
	case g == nil:
		v.add(obj, "gateway %q is neither an IP address nor a node", "write an address like 10.0.0.1 or the name of a neighbouring node", a.via)
	case pn != nil && len(g.addrsOn(pn.connected())) == 0:
		v.add(obj, "node %q shares no subnet with %q", "route via a node on a shared segment", a.via, a.node)
	}
}

func (a routeAction) Run(ctx context.Context, n *Network) error {
	nd, ok := n.Lookup(a.node)
	if !ok {
		return fmt.Errorf("%s: no node %q", a, a.node)
	}
	var dsts []netip.Prefix
	if a.dst == "default" {
		dsts = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	} else {
		d, err := netip.ParsePrefix(a.dst)
		if err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
		dsts = []netip.Prefix{d}
	}
	if a.op == "delete" {
		deleted := 0
		var errs []error
		for _, d := range dsts {
			rt := &netlink.Route{Dst: ipNet(d), Family: family(d.Addr())}
			if err := nd.nl.RouteDel(rt); err == nil {
				deleted++
			} else if a.dst != "default" || !(errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EAFNOSUPPORT)) {
				errs = append(errs, err)
			}
		}
		if deleted == 0 && len(errs) == 0 {
			errs = append(errs, errors.New("no default route"))
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
		return nil
	}
	gw, err := n.gateway(nd, a.via)
	if err != nil {
		return fmt.Errorf("%s: %w", a, err)
	}
	for _, d := range dsts {
		if d.Addr().Is4() != gw.Is4() {
			continue
		}
		rt := &netlink.Route{Dst: ipNet(d), Gw: gw.AsSlice(), Family: family(gw)}
		if a.op == "replace" {
			err = nd.nl.RouteReplace(rt)
		} else {
			err = nd.nl.RouteAdd(rt)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
	}
	return nil
}

// gateway resolves a route's via: an address, or a neighbour's address on
// a segment shared with nd (IPv4 first).
func (n *Network) gateway(nd *Node, via string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(via); err == nil {
		return a, nil
	}
	g, ok := n.Lookup(via)
	if !ok {
		return netip.Addr{}, fmt.Errorf("gateway %q is neither an address nor a node", via)
	}
	var v6 netip.Addr
	for _, ifc := range nd.ifaces {
		for _, p := range ifc.Addrs {
			if a := g.AddrOn(p.Addr()); a.IsValid() && a != p.Addr() {
				if a.Is4() {
					return a, nil
				}
				if !v6.IsValid() {
					v6 = a
				}
			}
		}
	}
	if v6.IsValid() {
		return v6, nil
	}
	return netip.Addr{}, fmt.Errorf("node %q shares no subnet with %q", via, nd.name)
}

// SetSysctl writes a network sysctl in a node's namespace.
func SetSysctl(node, name, value string) Action { return sysctlAction{node, name, value} }

type sysctlAction struct{ node, name, value string }

func (a sysctlAction) String() string { return fmt.Sprintf("set %s=%s on %s", a.name, a.value, a.node) }

func (a sysctlAction) validate(v *validator, p *plan, obj string) {
	v.node(p, obj, a.node)
	v.sysctl(obj, a.name, a.value)
}

func (a sysctlAction) Run(ctx context.Context, n *Network) error {
	nd, ok := n.Lookup(a.node)
	if !ok {
		return fmt.Errorf("%s: no node %q", a, a.node)
	}
	return nd.SetSysctl(a.name, a.value)
}

// StartProcess starts a process (argv[0] looked up in PATH) in a node under
// a name that StopProcess and KillProcess use. It is killed at teardown at
// the latest.
func StartProcess(node, name string, argv ...string) Action {
	return procAction{op: "start", node: node, name: name, argv: argv}
}

// StopProcess sends SIGTERM to a started process's group and waits for it
// to exit, killing it when the step's context ends (or after 10 s).
func StopProcess(node, name string) Action { return procAction{op: "stop", node: node, name: name} }

// KillProcess sends SIGKILL to a started process's group and waits for it.
func KillProcess(node, name string) Action { return procAction{op: "kill", node: node, name: name} }

type procAction struct {
	op, node, name string
	argv           []string
}

func (a procAction) String() string {
	if a.op == "start" {
		return fmt.Sprintf("start %s on %s: %s", a.name, a.node, strings.Join(a.argv, " "))
	}
	return fmt.Sprintf("%s %s on %s", a.op, a.name, a.node)
}

func (a procAction) validate(v *validator, p *plan, obj string) {
	v.node(p, obj, a.node)
	if a.name == "" {
		v.add(obj, "process has no name", "name it, so that a later step can stop it")
	}
	if a.op == "start" {
		if len(a.argv) == 0 || a.argv[0] == "" {
			v.add(obj, "no command", "pass the command and its arguments")
		}
		return
	}
	if v.direct {
		return // started by an earlier Apply, checked when run
	}
	for _, c := range v.s.checks {
		if pa, ok := c.Action.(procAction); ok && pa.op == "start" && pa.node == a.node && pa.name == a.name {
			return
		}
	}
	v.add(obj, "no step starts a process %q on %q", "add a StartProcess step before it, or fix the name", a.name, a.node)
}

func (a procAction) Run(ctx context.Context, n *Network) error {
	nd, ok := n.Lookup(a.node)
	if !ok {
		return fmt.Errorf("%s: no node %q", a, a.node)
	}
	key := a.node + "/" + a.name
	n.procMu.Lock()
	c := n.procs[key]
	n.procMu.Unlock()
	switch a.op {
	case "start":
		if len(a.argv) == 0 {
			return fmt.Errorf("%s: no command", a)
		}
		c := nd.Command(a.argv[0], a.argv[1:]...)
		if err := c.Start(); err != nil {
			return err
		}
		n.procMu.Lock()
		if n.procs == nil {
			n.procs = map[string]*Cmd{}
		}
		n.procs[key] = c
		n.procMu.Unlock()
		return nil
	case "stop", "kill":
		if c == nil || c.cmd == nil {
			return fmt.Errorf("%s: no process %q was started on %q", a, a.name, a.node)
		}
		if a.op == "kill" {
			c.kill()
			select {
			case <-c.done:
				return nil
			default:
				return fmt.Errorf("%s: still running after SIGKILL", a)
			}
		}
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, stepTimeout)
			defer cancel()
		}
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-c.done:
			return nil
		case <-ctx.Done():
			c.kill()
			return fmt.Errorf("%s: still running at the deadline after SIGTERM; killed", a)
		}
	}
	return fmt.Errorf("unknown process action %q", a.op)
}

// WaitFor is a step that waits until check passes, trying every every
// (default 20 ms) for at most within. It fails with the last attempt's
// evidence when within passes first.
func WaitFor(check CheckFunc, within, every time.Duration) Action {
	return waitFor{check: check, within: within, every: every}
}

type waitFor struct {
	check         CheckFunc
	within, every time.Duration
}

func (a waitFor) String() string { return fmt.Sprintf("wait up to %v for a condition", a.within) }

func (a waitFor) validate(v *validator, p *plan, obj string) {
	if a.check == nil {
		v.add(obj, "no condition to wait for", "pass a check")
	}
	v.checkRefs(p, obj, a.check)
	if a.within <= 0 || a.every < 0 {
		v.add(obj, "wait bound %v or period %v is out of range", "use a positive bound and a non-negative period", a.within, a.every)
	}
}

func (a waitFor) Run(ctx context.Context, n *Network) error {
	start := time.Now()
	ctx, cancel := context.WithDeadline(ctx, start.Add(a.within))
	defer cancel()
	every := a.every
	if every == 0 {
		every = 20 * time.Millisecond
	}
	for attempt := 1; ; attempt++ {
		r := a.check(ctx, n)
		if r.Err == nil && r.Skip == "" {
			return nil
		}
		if err := sleep(ctx, every); err != nil {
			why := r.Skip
			if r.Err != nil {
				why = r.Err.Error()
			}
			return fmt.Errorf("condition not met within %v (%d attempts); last: %s", a.within, attempt, why)
		}
	}
}

// end resolves "node:iface" in a built network.
func (n *Network) end(end string) (*Node, *Interface, netlink.Link, error) {
	node, iface, ok := strings.Cut(end, ":")
	if !ok || iface == "" {
		return nil, nil, nil, fmt.Errorf("%q is not node:interface", end)
	}
	nd, found := n.Lookup(node)
	if !found {
		return nil, nil, nil, fmt.Errorf("scenario %q has no node %q", n.spec.Name, node)
	}
	ifc := nd.Interface(iface)
	if ifc == nil {
		return nil, nil, nil, fmt.Errorf("node %q has no interface %q", node, iface)
	}
	l, err := nd.nl.LinkByIndex(ifc.Index)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("node %q: interface %q: %w", node, iface, err)
	}
	return nd, ifc, l, nil
}

// end validates "node:iface" against the plan.
func (v *validator) end(p *plan, obj, end string) {
	node, iface, ok := strings.Cut(end, ":")
	if !ok || iface == "" {
		v.add(obj, "%q does not name an interface", "write node:interface, like r1:eth0", end)
		return
	}
	pn := v.node(p, obj, node)
	if pn == nil {
		return
	}
	if pn.iface(iface) == nil && pn.bridge != iface {
		v.add(obj, "node %q has no interface %q", "use one of: "+pn.ifaceNames(), node, iface)
	}
}

// node validates a node name against the plan.
func (v *validator) node(p *plan, obj, name string) *planNode {
	pn := p.node(name)
	if pn == nil {
		v.add(obj, "node %q is not defined", "define it with Host, Router or Switch, or fix the name", name)
	} else {
		v.named = append(v.named, name)
	}
	return pn
}

func (p *plan) node(name string) *planNode {
	for _, pn := range p.nodes {
		if pn.spec.name == name {
			return pn
		}
	}
	return nil
}

// sysctl validates a sysctl name and value.
func (v *validator) sysctl(obj, name, value string) {
	if nsx.CheckSysctlName(name) != nil {
		v.add(obj, "sysctl %q is not a network sysctl", "only net.* sysctls are per namespace; write it like net.ipv4.conf.all.rp_filter (letters, digits, _ and - between dots)", name)
	} else if !sysctlExists(name) {
		v.add(obj, "sysctl %s does not exist on this kernel", "check the name (per-interface ones look like net.ipv4.conf.eth0.rp_filter)", name)
	}
	if strings.ContainsAny(value, "\n") || value == "" {
		v.add(obj, "sysctl %s has an empty or multi-line value", "give a single-line value", name)
	}
}

// SetImpairment replaces the impairment of the traffic leaving an
// interface ("node:iface") with im (netem, or tbf for a Rate alone), or
// adds one.
func SetImpairment(end string, im Impairment) Action {
	return impairAction{end: end, im: im, set: true}
}

// ClearImpairment removes the impairment of the traffic leaving an
// interface.
func ClearImpairment(end string) Action { return impairAction{end: end} }

type impairAction struct {
	end string
	im  Impairment
	set bool
}

func (a impairAction) String() string {
	if a.set {
		return fmt.Sprintf("impair %s: %s", a.end, a.im)
	}
	return "clear the impairment of " + a.end
}

func (a impairAction) features() []Feature {
	if !a.set {
		return nil
	}
	return a.im.features()
}

func (a impairAction) validate(v *validator, p *plan, obj string) {
	v.end(p, obj, a.end)
	if a.set {
		v.validateImpairment(obj, a.im)
	}
}

func (a impairAction) Run(ctx context.Context, n *Network) error {
	nd, ifc, l, err := n.end(a.end)
	if err != nil {
		return err
	}
	if !a.set {
		qs, err := nd.nl.QdiscList(l)
		if err != nil {
			return fmt.Errorf("%s: %w", a, err)
		}
		for _, q := range qs {
			if q.Attrs().Parent == netlink.HANDLE_ROOT && q.Attrs().Handle == netlink.MakeHandle(1, 0) {
				if err := nd.nl.QdiscDel(q); err != nil {
					return fmt.Errorf("%s: %w", a, err)
				}
				return nil
			}
		}
		return fmt.Errorf("%s: %s has no impairment", a, a.end)
	}
	if err := nd.impair(ifc.Index, a.im, true); err != nil {
		return fmt.Errorf("%s: %w", a, err)
	}
	return nil
}

// PortFlag is a per-port bridge flag that a step can turn on or off.
type PortFlag string

// The bridge port flags.
const (
	// PortLearning is address learning (IFLA_BRPORT_LEARNING).
	PortLearning PortFlag = "learning"
	// PortFlood is unknown-unicast flooding (IFLA_BRPORT_UNICAST_FLOOD).
	PortFlood PortFlag = "flood"
	// PortMulticastFlood is flooding of unregistered multicast
	// (IFLA_BRPORT_MCAST_FLOOD).
	PortMulticastFlood PortFlag = "mcast_flood"
)

// SetPortFlag turns a flag of a bridge port ("node:iface") on or off, like
// bridge link set dev IFACE learning|flood|mcast_flood on|off.
func SetPortFlag(end string, flag PortFlag, on bool) Action {
	return portFlag{end: end, flag: flag, on: on}
}

type portFlag struct {
	end  string
	flag PortFlag
	on   bool
}

func (a portFlag) String() string {
	state := "off"
	if a.on {
		state = "on"
	}
	return fmt.Sprintf("bridge port %s %s %s", a.end, a.flag, state)
}

func (a portFlag) validate(v *validator, p *plan, obj string) {
	v.end(p, obj, a.end)
	switch a.flag {
	case PortLearning, PortFlood, PortMulticastFlood:
	default:
		v.add(obj, "bridge port flag %q is unknown", "use PortLearning, PortFlood or PortMulticastFlood", a.flag)
	}
}

func (a portFlag) Run(ctx context.Context, n *Network) error {
	nd, _, l, err := n.end(a.end)
	if err != nil {
		return err
	}
	if l.Attrs().MasterIndex == 0 {
		return fmt.Errorf("%s: %s is not a bridge port", a, a.end)
	}
	switch a.flag {
	case PortLearning:
		err = nd.nl.LinkSetLearning(l, a.on)
	case PortFlood:
		err = nd.nl.LinkSetFlood(l, a.on)
	case PortMulticastFlood:
		err = nd.do(func() error {
			req := nl.NewNetlinkRequest(unix.RTM_SETLINK, unix.NLM_F_ACK)
			msg := nl.NewIfInfomsg(unix.AF_BRIDGE)
			msg.Index = int32(l.Attrs().Index)
			req.AddData(msg)
			pi := nl.NewRtAttr(unix.IFLA_PROTINFO|unix.NLA_F_NESTED, nil)
			v := byte(0)
			if a.on {
				v = 1
			}
			pi.AddRtAttr(nl.IFLA_BRPORT_MCAST_FLOOD, []byte{v})
			req.AddData(pi)
			_, err := req.Execute(unix.NETLINK_ROUTE, 0)
			return err
		})
	default:
		err = fmt.Errorf("unknown flag %q", a.flag)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", a, err)
	}
	return nil
}
