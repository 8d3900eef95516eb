package scenario

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/nsguard"
	"github.com/vtest-dev/vtest/internal/nsx"
)

// Network is a built scenario: one anonymous network namespace per node,
// with its links, addresses, routes, sysctls and NAT rules. Close tears it
// down; the kernel also frees it if the process dies.
type Network struct {
	spec  *Spec
	plan  *plan
	nodes map[string]*Node
	order []*Node

	procMu sync.Mutex
	procs  map[string]*Cmd // started by StartProcess, by "node/name"
	values sync.Map        // SetValue/Value: state steps leave for later checks

	closeOnce sync.Once
	closeErr  error

	// neighbours is what PreinstallNeighbours installs (neighbours.go).
	neighbours *neighbourSet
}

// Node is a built node.
type Node struct {
	net    *Network
	name   string
	kind   Role
	ns     netns.NsHandle
	nl     *netlink.Handle
	ifaces []*Interface
	bridge *Interface // switches only

	mu     sync.Mutex
	thread *nsx.Thread // lazily, for processes
	cmds   []*Cmd
	closed bool
	// foreign is set once code other than vtest's own may have run in
	// the namespace (Do, a process, NamespaceFd): only then does teardown
	// look for processes to kill there.
	foreign atomic.Bool
	// guard watches the namespace for the process guard once foreign
	// code ran there (see markForeign).
	guardMu sync.Mutex
	guard   *nsguard.Watch
	// pingOpen is set once net.ipv4.ping_group_range lets every group
	// open ping sockets (see openPing).
	pingMu   sync.Mutex
	pingOpen atomic.Bool
	// neighboursDue is set while the node's pre-installed neighbours
	// wait for its first use (see useNeighbours).
	neighboursDue atomic.Bool
	// ruleActs holds what DisableRule took out of a rule, by rule name.
	ruleActs map[string][]expr.Any
}

// Interface is an interface of a built node.
type Interface struct {
	// Name is the kernel name, inside the node's namespace.
	Name string
	// Index is the kernel's interface index inside the namespace.
	Index int
	// MAC is the hardware address.
	MAC net.HardwareAddr
	// Addrs are the interface's addresses.
	Addrs []netip.Prefix
	// PeerNode and PeerInterface name the other end of the veth pair; both
	// are empty for other kinds.
	PeerNode, PeerInterface string
	// Kind is the kernel's name of the interface's kind: "veth", "bridge",
	// "vlan", "vxlan", …
	Kind string
	// Master is the bridge, bond or VRF the interface is enslaved to, if
	// any.
	Master string
	// Framing is what a packet socket on the interface reads: Ethernet
	// frames, bare IP packets (WireGuard), or no traffic of its own (a
	// bridge, VRF or dummy, whose ports, members or stack carry it).
	Framing Framing
	// Switches reports whether frames cross between the interfaces
	// enslaved to this one (a bridge; not a bond or a VRF).
	Switches bool

	plan *planIface // nil for a switch's bridge
}

// BuildError says which step of building a scenario failed.
type BuildError struct {
	Scenario string
	Step     string
	Err      error
}

// Error names the scenario and the step.
func (e *BuildError) Error() string {
	return fmt.Sprintf("scenario %q: build: %s: %v", e.Scenario, e.Step, e.Err)
}

// Unwrap returns the cause.
func (e *BuildError) Unwrap() error { return e.Err }

// buildTimeout bounds a Build whose context has no deadline.
const buildTimeout = 30 * time.Second

// Build validates the spec and builds it. It returns only when every link is
// operationally up on both ends. On any error, whatever was created is torn
// down before Build returns. Nothing is created in, or changed in, the
// namespace of the calling process.
func Build(ctx context.Context, s *Spec) (*Network, error) {
	p, err := s.plan()
	if err != nil {
		return nil, err
	}
	return build(ctx, p)
}

// build builds a validated plan.
func build(ctx context.Context, p *plan) (*Network, error) {
	s := p.spec
	if err := nsx.CheckPrivileges(); err != nil {
		return nil, fmt.Errorf("scenario %q: %w", s.Name, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, buildTimeout)
		defer cancel()
	}
	n := &Network{spec: s, plan: p, nodes: make(map[string]*Node, len(p.nodes))}
	ok := false
	defer func() {
		if !ok {
			n.Close()
		}
	}()
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"create namespaces", n.createNodes},
		{"create links", n.createLinks},
		{"set interface sysctls", n.ifaceSysctls},
		{"add routes", n.addRoutes},
		{"install NAT", n.installNAT},
		{"install firewall", n.installFirewall},
		{"add impairments", n.addImpairments},
		{"wait for links", n.waitUp},
		{"pre-install neighbours", n.preinstallNeighbours},
	}
	for _, st := range steps {
		if err := ctx.Err(); err != nil {
			return nil, &BuildError{Scenario: s.Name, Step: st.name, Err: err}
		}
		if err := st.fn(ctx); err != nil {
			return nil, &BuildError{Scenario: s.Name, Step: st.name, Err: err}
		}
	}
	ok = true
	return n, nil
}

// Spec returns the definition the network was built from.
func (n *Network) Spec() *Spec { return n.spec }

// Nodes returns the nodes in definition order.
func (n *Network) Nodes() []*Node { return n.order }

// Node returns the node called name. It panics if there is none, like
// regexp.MustCompile: a check naming a missing node is a programming error.
func (n *Network) Node(name string) *Node {
	nd, ok := n.nodes[name]
	if !ok {
		panic(fmt.Sprintf("scenario %q has no node %q", n.spec.Name, name))
	}
	return nd
}

// Lookup returns the node called name, if any.
func (n *Network) Lookup(name string) (*Node, bool) {
	nd, ok := n.nodes[name]
	return nd, ok
}

// baselineSysctls are what every namespace must have before any link
// exists, so that a scenario behaves the same whatever the host's settings
// are (a new namespace copies the host's IPv4 interface defaults, or the
// kernel's, depending on net.core.devconf_inherit_init_net). Before, not
// after: an interface copies "default" when it is created, together with
// the marks of which values were set explicitly — and the host's
// sysctl.d writes at boot mark them — so a later change of "default" does
// not reach it.
var baselineSysctls = [][2]string{
	{"net.ipv4.conf.all.rp_filter", "0"},
	{"net.ipv4.conf.default.rp_filter", "0"},
	{"net.ipv4.conf.all.accept_local", "0"},
	{"net.ipv4.conf.default.accept_local", "0"},
	{"net.ipv4.conf.all.arp_ignore", "0"},
	{"net.ipv4.conf.default.arp_ignore", "0"},
	{"net.ipv4.conf.all.arp_announce", "0"},
	{"net.ipv4.conf.default.arp_announce", "0"},
	{"net.ipv4.conf.all.arp_filter", "0"},
	{"net.ipv4.conf.default.arp_filter", "0"},
}

// nodeSetup is how every namespace of one build starts.
type nodeSetup struct {
	ipv6  bool // the scenario uses IPv6
	hasV6 bool // the kernel has IPv6
	// probe lists the baseline sysctls this node reads, writing those
	// that differ and keeping them in differ. Every namespace of a build is
	// created the same way (by this process, from the same namespace,
	// within milliseconds) and inherits the same values, so each baseline
	// sysctl is read in one node only, the reads spread over the first
	// nodes, and the others are given what differs afterwards. Reading a
	// sysctl costs as much as writing one (20–90 µs); on most hosts
	// nothing differs.
	probe  [][2]string
	differ [][2]string
}

func (n *Network) createNodes(ctx context.Context) error {
	setup := nodeSetup{ipv6: n.plan.ipv6}
	_, statErr := os.Stat("/proc/sys/net/ipv6")
	setup.hasV6 = statErr == nil
	if setup.ipv6 && !setup.hasV6 {
		return errors.New("the scenario uses IPv6 but this kernel has no IPv6 (no /proc/sys/net/ipv6)")
	}
	nodes := make([]*Node, len(n.plan.nodes))
	setups := make([]nodeSetup, len(n.plan.nodes))
	for i := range setups {
		setups[i] = setup
	}
	for i, kv := range baselineSysctls {
		if len(setups) > 0 {
			j := i % min(len(setups), maxParallelNodes())
			setups[j].probe = append(setups[j].probe, kv)
		}
	}
	// In parallel: creating a namespace is mostly waiting for the kernel,
	// and each node has its own netlink handle. More at once than this
	// only contend for the kernel's RTNL lock.
	built := inParallel(ctx, len(n.plan.nodes), func(i int) (err error) {
		nodes[i], err = newNode(n.plan.nodes[i], &setups[i])
		return err
	})
	var differ [][2]string
	for i, nd := range nodes {
		if nd != nil {
			nd.net = n
			n.nodes[nd.name] = nd
			n.order = append(n.order, nd)
		}
		differ = append(differ, setups[i].differ...)
	}
	if built != nil {
		return built
	}
	// The host's defaults differ from the baseline: give every node what
	// it did not find itself, still before any link exists. A node's own
	// sysctls win.
	if len(differ) == 0 {
		return nil
	}
	for i, nd := range nodes {
		early, _ := splitSysctls(n.plan.nodes[i])
		var todo [][2]string
		for _, kv := range differ {
			mine := slices.Contains(setups[i].differ, kv)
			own := slices.ContainsFunc(early, func(e [2]string) bool { return e[0] == kv[0] })
			if !mine && !own {
				todo = append(todo, kv)
			}
		}
		if err := nd.writeSysctls(todo); err != nil {
			return err
		}
	}
	return nil
}

// writeSysctls writes sysctls inside the node's namespace.
func (nd *Node) writeSysctls(kvs [][2]string) error {
	if len(kvs) == 0 {
		return nil
	}
	err := nd.do(func() error {
		for _, kv := range kvs {
			if err := nsx.WriteSysctl(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("node %q: %w", nd.name, err)
	}
	return nil
}

// maxParallelNodes bounds the namespaces created at once: two per CPU, at
// most 8.
func maxParallelNodes() int { return min(8, 2*runtime.GOMAXPROCS(0)) }

// inParallel runs fn(0) … fn(n−1), maxParallelNodes at a time, and joins
// their errors in that order; once ctx is done, the calls not yet started
// fail with its error instead.
func inParallel(ctx context.Context, n int, fn func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, maxParallelNodes())
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if errs[i] = ctx.Err(); errs[i] == nil {
				errs[i] = fn(i)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// newNode creates one node's namespace and, from inside it on the thread
// that created it (no namespace switch): the baseline and early sysctls
// before any link exists, its netlink handle, lo up, and for a switch its
// bridge. On error it returns the partly built node (to be closed) and the
// error.
func newNode(pn *planNode, setup *nodeSetup) (*Node, error) {
	early, _ := splitSysctls(pn)
	nd := &Node{name: pn.spec.name, kind: pn.spec.kind}
	nd.pingOpen.Store(setsPingGroup(early))
	ns, err := nsx.New(func() error {
		if err := setup.writeSysctls(pn, early); err != nil {
			return err
		}
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("open netlink handle: %w", err)
		}
		nd.nl = h
		lo := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1, Name: "lo"}}
		if err := h.LinkSetUp(lo); err != nil {
			return fmt.Errorf("set lo up: %w", err)
		}
		if pn.spec.kind == RoleSwitch {
			return nd.addBridge(pn)
		}
		return nil
	})
	if err != nil {
		nd.closeNetlink()
		return nil, fmt.Errorf("node %q: %w", pn.spec.name, err)
	}
	nd.ns = ns
	return nd, nil
}

// writeSysctls writes, in the calling thread's new namespace, what a node
// needs before any link exists.
func (s *nodeSetup) writeSysctls(pn *planNode, early [][2]string) error {
	for _, kv := range s.probe {
		v, err := nsx.ReadSysctl(kv[0])
		if err != nil {
			return err
		}
		if v != kv[1] {
			s.differ = append(s.differ, kv)
		}
	}
	sysctls := slices.Clone(s.differ)
	if s.hasV6 {
		if s.ipv6 {
			// Before any link exists, so that no address (not even the
			// link-local one) is ever tentative.
			sysctls = append(sysctls,
				[2]string{"net.ipv6.conf.all.accept_dad", "0"},
				[2]string{"net.ipv6.conf.default.accept_dad", "0"})
		} else {
			// IPv4-only: no IPv6 on any interface the scenario creates,
			// hence no RS/MLD noise. Only the default: "all" would also
			// take ::1 off lo, and writing it waits for the RTNL lock.
			sysctls = append(sysctls, [2]string{"net.ipv6.conf.default.disable_ipv6", "1"})
		}
	}
	if pn.spec.kind == RoleRouter {
		sysctls = append(sysctls, [2]string{"net.ipv4.ip_forward", "1"})
		if s.ipv6 {
			sysctls = append(sysctls, [2]string{"net.ipv6.conf.all.forwarding", "1"})
		}
	}
	for _, kv := range append(sysctls, early...) {
		if err := nsx.WriteSysctl(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// splitSysctls separates a node's sysctls into those that can be set before
// its links exist and those naming one of its interfaces.
func splitSysctls(pn *planNode) (early, late [][2]string) {
	names := map[string]bool{}
	for _, i := range pn.ifaces {
		names[i.name] = true
	}
	if pn.bridge != "" {
		names[pn.bridge] = true
	}
	for _, kv := range pn.spec.Sysctls() {
		if slices.ContainsFunc(strings.Split(kv[0], "."), func(part string) bool { return names[part] }) {
			late = append(late, kv)
		} else {
			early = append(early, kv)
		}
	}
	return early, late
}

func (nd *Node) addBridge(pn *planNode) error {
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: pn.bridge, Flags: net.FlagUp}}
	if err := nd.nl.LinkAdd(br); err != nil {
		return fmt.Errorf("create bridge %q in node %q: %w", pn.bridge, nd.name, err)
	}
	ifc := &Interface{Name: pn.bridge, Index: br.Index, Addrs: pn.bridgeAddrs, Kind: "bridge", Framing: Bridge{}.framing(), Switches: true}
	if err := nd.addAddrs(br, pn.bridgeAddrs); err != nil {
		return err
	}
	nd.bridge = ifc
	nd.ifaces = append(nd.ifaces, ifc)
	return nil
}

func (nd *Node) addAddrs(l netlink.Link, addrs []netip.Prefix) error {
	for _, a := range addrs {
		na := &netlink.Addr{IPNet: ipNet(a)}
		if a.Addr().Is6() {
			na.Flags = unix.IFA_F_NODAD
		}
		if err := nd.nl.AddrAdd(l, na); err != nil {
			return fmt.Errorf("add address %s to %q in node %q: %w", a, l.Attrs().Name, nd.name, err)
		}
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// addDelay puts a netem qdisc delaying every packet by d (> 0) on a link:
// the impairment Impairment{Delay: d}.
func (nd *Node) addDelay(index int, d time.Duration) error {
	if err := nd.nl.QdiscAdd(impairQdisc(index, Impairment{Delay: d})); err != nil {
		return fmt.Errorf("node %q: netem delay %v on link %d: %w", nd.name, d, index, err)
	}
	return nil
}

func (n *Network) ifaceSysctls(ctx context.Context) error {
	for _, pn := range n.plan.nodes {
		_, late := splitSysctls(pn)
		if err := n.nodes[pn.spec.name].writeSysctls(late); err != nil {
			return err
		}
	}
	return nil
}

func (n *Network) addRoutes(ctx context.Context) error {
	for _, pn := range n.plan.nodes {
		if err := n.nodes[pn.spec.name].addL3(pn); err != nil {
			return err
		}
	}
	return nil
}

// NATTable is the name of the nftables table vtest installs in NAT routers.
const NATTable = "vtest-nat"

func (n *Network) installNAT(ctx context.Context) error {
	for _, pn := range n.plan.nodes {
		nd := n.nodes[pn.spec.name]
		rules := pn.nat
		if out, ok := pn.spec.MasqueradeInterface(); ok {
			rules = append([]planNAT{masquerade(out)}, rules...)
		}
		if err := installNATRules(nd.ns, rules); err != nil {
			return fmt.Errorf("node %q: %w", nd.name, err)
		}
	}
	return nil
}

// masquerade is the rule NodeSpec.Masquerade adds, before every NAT rule:
//
//	table inet vtest-nat { chain postrouting { type nat hook postrouting priority srcnat; oifname OUT counter masquerade } }
func masquerade(out string) planNAT {
	return planNAT{action: Masquerade, m: planMatch{out: out}}
}

// installMasquerade adds, in the namespace ns only, the rule masquerade(out).
func installMasquerade(ns netns.NsHandle, out string) error {
	return installNATRules(ns, []planNAT{masquerade(out)})
}

func ifname(s string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, s)
	return b
}

// waitUp returns when every veth end and every bridge with ports is
// operationally up. A packet sent before that may be lost or stall for a
// second while the carrier change is still being processed. In IPv6
// scenarios it also waits until no address is tentative: even with DAD off,
// the kernel marks a new link-local address tentative and clears the flag
// from a workqueue a little after link-up.
func (n *Network) waitUp(ctx context.Context) error {
	for _, nd := range n.order {
		var want []*Interface
		for _, ifc := range nd.ifaces {
			if ifc == nd.bridge && len(nd.ifaces) == 1 {
				continue // a bridge without ports never comes up
			}
			if ifc.plan != nil && !ifc.plan.expectUp() {
				continue // down, or built on something down
			}
			want = append(want, ifc)
		}
		if err := nd.waitAllUp(ctx, want); err != nil {
			return err
		}
		for _, ifc := range want {
			if rw, ok := ifc.plan.kindOf().(readyWaiter); ok {
				if err := rw.waitReady(ctx, &kindBuild{n: n, node: nd, on: nd, iface: ifc.plan}); err != nil {
					return err
				}
			}
		}
		if n.plan.ipv6 {
			if err := nd.waitNotTentative(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitAllUp returns when every interface of ifcs is operationally up, and
// records their MACs. It asks for each interface on its own, not for a
// dump of the node's links: the kernel may delay a carrier change by up to
// a second (linkwatch batches the events it does not deem urgent, such as
// a veth whose peer has the same index in its own namespace), and a
// request for one link has it handled at once, a dump does not.
func (nd *Node) waitAllUp(ctx context.Context, ifcs []*Interface) error {
	for _, ifc := range ifcs {
		if err := nd.waitOperUp(ctx, ifc); err != nil {
			return err
		}
	}
	return nil
}

func (nd *Node) waitNotTentative(ctx context.Context) error {
	return poll(ctx, func() (bool, error) {
		addrs, err := nd.nl.AddrList(nil, netlink.FAMILY_V6)
		if errors.Is(err, netlink.ErrDumpInterrupted) {
			// The addresses changed during the dump (DAD finishing on
			// one of them, NLM_F_DUMP_INTR): ask again. Seen in the VM
			// as "list addresses: results may be incomplete or
			// inconsistent" failing an IPv6 scenario's build.
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("node %q: list addresses: %w", nd.name, err)
		}
		for _, a := range addrs {
			if a.Flags&unix.IFA_F_TENTATIVE != 0 {
				if ctx.Err() != nil {
					return false, fmt.Errorf("node %q: %s still tentative: %w", nd.name, a.IPNet, ctx.Err())
				}
				return false, nil
			}
		}
		return true, nil
	})
}

// poll calls cond until it reports done or an error, backing off from 20 µs
// to 5 ms between calls, and gives up when ctx ends. It waits on a
// condition with a deadline, never for a fixed time.
func poll(ctx context.Context, cond func() (bool, error)) error {
	for delay := 20 * time.Microsecond; ; delay = min(2*delay, 5*time.Millisecond) {
		done, err := cond()
		if err != nil || done {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

func (nd *Node) waitOperUp(ctx context.Context, ifc *Interface) error {
	return poll(ctx, func() (bool, error) {
		l, err := nd.nl.LinkByIndex(ifc.Index)
		if err != nil {
			return false, fmt.Errorf("node %q: read %q: %w", nd.name, ifc.Name, err)
		}
		if lowerUp(l) {
			ifc.MAC = l.Attrs().HardwareAddr
			return true, nil
		} else if ctx.Err() != nil {
			return false, fmt.Errorf("node %q: %q still %s: %w", nd.name, ifc.Name, l.Attrs().OperState, ctx.Err())
		}
		return false, nil
	})
}

// Close tears the network down: it kills the processes started in its nodes,
// closes every netlink handle and namespace descriptor, and returns when the
// process holds nothing of the network any more. The kernel then frees the
// namespaces asynchronously. Close is idempotent.
func (n *Network) Close() error {
	n.closeOnce.Do(func() {
		var errs []error
		// Every process in a node's namespace dies first, found by its
		// namespace: also daemons that left the process group and the
		// session of the process started (setsid, double fork). Only
		// nodes where foreign code ran can have any (see Node.Do): for
		// the others, the scan of /proc is spared.
		nss := make([]netns.NsHandle, 0, len(n.order))
		for _, nd := range n.order {
			if nd.foreign.Load() {
				nss = append(nss, nd.ns)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), processKillTimeout)
		if err := nsx.KillProcessesIn(ctx, nss...); err != nil {
			errs = append(errs, err)
		} else {
			for _, nd := range n.order {
				nd.releaseGuard()
			}
		}
		cancel()
		for i := len(n.order) - 1; i >= 0; i-- {
			if err := n.order[i].close(); err != nil {
				errs = append(errs, err)
			}
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// processKillTimeout bounds how long teardown waits for the processes of
// its namespaces to die after SIGKILL (a process in uninterruptible sleep
// dies when it wakes up).
const processKillTimeout = 5 * time.Second

// closeHandle closes a netlink handle so that it stays closed. A plain
// Close leaves a handle that sends later requests on a socket of the calling
// thread's namespace, the host's for an unlocked goroutine: code that keeps
// the handle past teardown (a check abandoned because it hung) would then
// change the host. Here the handle keeps its closed sockets, and every later
// request fails with EBADF.
func closeHandle(h *netlink.Handle) {
	dead := *h // shares the sockets that Close closes
	h.Close()
	*h = dead
}

// closeNetlink closes the node's netlink handle so that it stays closed.
func (nd *Node) closeNetlink() {
	if nd.nl != nil {
		closeHandle(nd.nl)
	}
}

func (nd *Node) close() error {
	nd.mu.Lock()
	nd.closed = true
	cmds, thread := nd.cmds, nd.thread
	nd.cmds, nd.thread = nil, nil
	nd.mu.Unlock()
	var errs []error
	for _, c := range cmds {
		c.kill()
	}
	if thread != nil {
		thread.Close()
	}
	nd.closeNetlink()
	if nd.ns.IsOpen() {
		if err := nd.ns.Close(); err != nil {
			errs = append(errs, fmt.Errorf("node %q: close namespace: %w", nd.name, err))
		}
		nd.ns = netns.None()
	}
	return errors.Join(errs...)
}
