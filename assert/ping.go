package assert

import (
	"context"
	"errors"
	"fmt"

	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vtest-dev/vtest/internal/nsx"
	"github.com/vtest-dev/vtest/scenario"
)

// PingResult is the evidence of an ICMP echo check.
type PingResult struct {
	From     string
	To       netip.Addr
	Sent     int
	Received int
	RTTs     []time.Duration // of the counted probes, in order received
	TTLs     []uint8
	// Route is the kernel's route lookup from the source: the device and
	// gateway it would use, or why there is none.
	Route string
	// Elapsed is how long the check took.
	Elapsed time.Duration
	// Walk is the path walk done when the check failed: where the packet
	// died, from the scenario's kernel state.
	Walk *Walk
	// NeighbourTable, set when the check failed while the kernel's
	// neighbour table was nearly full, says so (see neighbourTableFull).
	NeighbourTable string
	// PreinstalledNeighbours is set when the scenario pre-installed its
	// neighbour entries (Spec.PreinstallNeighbours): no ARP or NDP ran.
	PreinstalledNeighbours bool
}

// Loss returns the fraction of probes lost.
func (r *PingResult) Loss() float64 {
	if r.Sent == 0 {
		return 1
	}
	return float64(r.Sent-r.Received) / float64(r.Sent)
}

// Evidence renders the result like ping's summary.
func (r *PingResult) Evidence() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ping %s from %s: %d sent, %d received, %.0f%% loss", r.To, r.From, r.Sent, r.Received, 100*r.Loss())
	if len(r.RTTs) > 0 {
		s := Summarize(r.RTTs)
		fmt.Fprintf(&b, ", rtt min/avg/max = %s/%s/%s", ms(s.Min), ms(s.Avg), ms(s.Max))
	}
	if len(r.TTLs) > 0 {
		fmt.Fprintf(&b, ", ttl %d", r.TTLs[0])
	}
	if r.Route != "" {
		fmt.Fprintf(&b, "; route: %s", r.Route)
	}
	fmt.Fprintf(&b, "; took %s", ms(r.Elapsed))
	if r.PreinstalledNeighbours {
		b.WriteString("; neighbours pre-installed (ARP/NDP not exercised)")
	}
	if r.Walk != nil {
		b.WriteString("\n" + r.Walk.Evidence())
	}
	if r.NeighbourTable != "" {
		b.WriteString("\n" + r.NeighbourTable)
	}
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }

var pingDefaults = Options{Count: 1, Interval: 10 * time.Millisecond, Timeout: time.Second, Size: 24}

// Ping sends ICMP echo requests (IPv4 or IPv6, by the address) from a node
// and fails unless enough replies come back: by default 1 probe of 24
// bytes of payload, 0 loss, within 1 s. It returns as soon as the last
// reply is in. It uses an ICMP datagram ("ping") socket opened in the
// node, so concurrent pings never count each other's replies; only replies
// from the target carrying the payload sent count, each once. Warm-up
// probes go first and are not counted; the counted ones start when every
// warm-up reply is in, or when half of Timeout is gone.
func Ping(ctx context.Context, from *scenario.Node, to netip.Addr, opts ...Option) (*PingResult, error) {
	o, err := build(pingDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("ping: %w", err)
	}
	// The table's refusals so far, read before the first probe: read
	// concurrently with the socket's opening, a slow machine (a VM under
	// TCG) ran the read after the send the kernel refused, so the refusal
	// was missed and an inconclusive failure reported as a failure.
	before := readNeighbourTable(to, false)
	r, err := ping(ctx, from, to, o)
	need := o.Count - int(float64(o.Count)*o.Loss)
	if err == nil && r.Received >= need && r.Received > 0 {
		return r, nil
	}
	table := readNeighbourTable(to, true)
	if err != nil && r != nil {
		// Cut off by its context (the bound of Eventually), or a send
		// the kernel refused (no route): the walk still says where the
		// packets went, and it sends nothing.
		r.Walk = walkPath(from, to, echoSize(to, o.Size))
	}
	if err == nil {
		r.Walk = walkPath(from, to, echoSize(to, o.Size))
		if !r.PreinstalledNeighbours {
			// The table's count includes the permanent entries,
			// which the limit does not apply to.
			r.NeighbourTable = table.note()
		}
		err = fmt.Errorf("%s is not reachable from %s: %s", to, from.Name(), r.Evidence())
	}
	// A send the kernel refused (it could not create the neighbour) or
	// probes lost, while the table was full.
	if reason := table.inconclusive(before); reason != "" && ctx.Err() == nil {
		return r, &scenario.InconclusiveError{Reason: reason + "\n" + err.Error()}
	}
	return r, err
}

// ping sends the echo requests of o from node from to address to through
// an ICMP datagram socket opened in the node (see echoSocket) and returns
// what came back; the error is only for a check that could not run (bad
// options, a socket the kernel refused, a request it would not send, ctx
// done). Timeout bounds the whole run, warm-up included.
func ping(ctx context.Context, from *scenario.Node, to netip.Addr, o Options) (*PingResult, error) {
	start := time.Now()
	r := &PingResult{From: from.Name(), To: to}
	if n := from.Network(); n != nil {
		r.PreinstalledNeighbours = n.Spec().NeighboursPreinstalled()
	}
	// The route lookup (a netlink round trip) runs while the probes
	// are on the wire.
	route := make(chan string, 1)
	go func() { route <- routeTo(from, to) }()
	defer func() { r.Route = <-route }()
	fail := func(err error) (*PingResult, error) {
		r.Elapsed = time.Since(start)
		return r, fmt.Errorf("ping %s from %s: %w", to, from.Name(), err)
	}
	if o.Count < 1 {
		return fail(fmt.Errorf("count %d: at least one probe is needed", o.Count))
	}
	if o.Count+o.Warmup > 1<<16 {
		return fail(fmt.Errorf("count %d and warm-up %d: at most %d probes", o.Count, o.Warmup, 1<<16))
	}
	if o.Timeout == 0 {
		o.Timeout = pingDefaults.Timeout
	}
	if o.Size == 0 {
		o.Size = pingDefaults.Size
	}
	sock, err := openEcho(from, to, o.Source, o.Interface, o.Size)
	if err != nil {
		return fail(err)
	}
	defer sock.Close()
	err = sock.run(ctx, echoPlan{warmup: o.Warmup, count: o.Count, interval: o.Interval, timeout: o.Timeout}, start, r)
	r.Elapsed = time.Since(start)
	if err != nil {
		return fail(err)
	}
	return r, nil
}

// routeTo describes the node's route to dst: "dev eth0 via 10.0.0.1",
// "no route (network is unreachable)" or "local".
func routeTo(from *scenario.Node, dst netip.Addr) string {
	nl := from.Netlink()
	if nl == nil {
		return ""
	}
	routes, err := nl.RouteGet(dst.AsSlice())
	if err != nil {
		if errors.Is(err, syscall.ENETUNREACH) {
			return "no route (network is unreachable)"
		}
		if errors.Is(err, syscall.EHOSTUNREACH) {
			return "no route (host is unreachable)"
		}
		if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EACCES) {
			return fmt.Sprintf("no route (%v: blackhole, prohibit or unreachable route)", err)
		}
		return fmt.Sprintf("route lookup failed: %v", err)
	}
	if len(routes) == 0 {
		return "no route"
	}
	rt := routes[0]
	// The scenario knows its interfaces' names: a second round trip
	// only for one it did not make (lo, or one made by hand).
	dev, ok := knownIface(from, rt.LinkIndex)
	if !ok {
		dev = "?"
		if l, err := nl.LinkByIndex(rt.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
	}
	s := "dev " + dev
	if rt.Gw != nil {
		s += " via " + rt.Gw.String()
	}
	if rt.Src != nil {
		s += " src " + rt.Src.String()
	}
	return s
}

// Reach is a scenario check: from reaches to (a node name or an address)
// by ICMP echo.
func Reach(from string, to Target, opts ...Option) scenario.CheckFunc {
	return named("Reach", pingReads, Ping, from, to, opts)
}

// Reachable fails the test unless from reaches to (a node or an address) by
// ICMP echo. It returns whether the check passed.
func Reachable(t TestingT, from *scenario.Node, to Target, opts ...Option) bool {
	helper(t).Helper()
	return inTest(t, Ping, from, to, opts)
}

// The kernel keeps one ARP (and one NDP) table for every namespace of the
// host, capped at net.ipv{4,6}.neigh.default.gc_thresh3 entries, and evicts
// no entry younger than 5 s, so a run that resolves many neighbours at once
// (h1 reaching 999 hosts on one switch needs about 2000) makes the kernel
// refuse new ones ("neighbor table overflow", table_fulls in
// /proc/net/stat/arp_cache). A ping that fails while the kernel refused
// entries says nothing about the network: it is inconclusive.

// neighbourTable is the state of the kernel's neighbour table of a family.
type neighbourTable struct {
	entries, limit int
	refused        uint64 // since boot
	ok             bool
}

// readNeighbourTable reads the table of to's family (with its cap when
// withLimit); ok is false if it cannot be read.
func readNeighbourTable(to netip.Addr, withLimit bool) neighbourTable {
	stat, sysctl := "/proc/net/stat/arp_cache", "net.ipv4.neigh.default.gc_thresh3"
	if to.Is6() {
		stat, sysctl = "/proc/net/stat/ndisc_cache", "net.ipv6.neigh.default.gc_thresh3"
	}
	st, err := nsx.ReadProc(stat)
	if err != nil {
		return neighbourTable{}
	}
	t := parseNeighbourStat(string(st))
	if withLimit {
		// From an unlocked goroutine: the host's namespace, whose value
		// every namespace shares.
		raw, err := nsx.ReadSysctl(sysctl)
		if err != nil {
			return neighbourTable{}
		}
		if t.limit, err = strconv.Atoi(raw); err != nil {
			return neighbourTable{}
		}
	}
	return t
}

// parseNeighbourStat reads a /proc/net/stat/{arp,ndisc}_cache text: a
// header line, then one line per CPU; entries (first column) is the
// table's, the same on every line; table_fulls is per CPU.
func parseNeighbourStat(st string) neighbourTable {
	lines := strings.Split(strings.TrimSpace(st), "\n")
	if len(lines) < 2 {
		return neighbourTable{}
	}
	cols := strings.Fields(lines[0])
	fulls := slices.Index(cols, "table_fulls")
	var t neighbourTable
	for i, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != len(cols) {
			return neighbourTable{}
		}
		if i == 0 {
			n, _ := strconv.ParseUint(f[0], 16, 64)
			t.entries = int(n)
		}
		if fulls >= 0 {
			n, _ := strconv.ParseUint(f[fulls], 16, 64)
			t.refused += n
		}
	}
	t.ok = fulls >= 0
	return t
}

// note returns, for a table within 10% of its cap, a line explaining that
// failures may be the kernel's and not the network's; "" otherwise.
func (t neighbourTable) note() string {
	if !t.ok || t.entries*10 < t.limit*9 {
		return ""
	}
	return fmt.Sprintf("note: the kernel's neighbour table, shared by every namespace of the host, holds %d entries of at most %d (gc_thresh3) and has refused %d since boot: with this many neighbours resolved at once the kernel drops new ones; pre-install the scenario's neighbours (Spec.PreinstallNeighbours), raise gc_thresh3 on the host, or resolve fewer neighbours per scenario", t.entries, t.limit, t.refused)
}

// inconclusive returns the reason a failed ping is inconclusive: the
// kernel refused neighbour entries between before and t. "" if it did not.
func (t neighbourTable) inconclusive(before neighbourTable) string {
	if !t.ok || !before.ok || t.refused <= before.refused {
		return ""
	}
	return fmt.Sprintf("the kernel's neighbour table was full: it refused %d new entries while the check ran (%d of at most %d entries, gc_thresh3, shared by every namespace of the host); pre-install the scenario's neighbours (Spec.PreinstallNeighbours), raise gc_thresh3 on the host, or resolve fewer neighbours at once", t.refused-before.refused, t.entries, t.limit)
}
