package scenario_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/internal/packet"
	"github.com/vtest-dev/vtest/scenario"
)

// arpLimit is the host's ARP table limit (gc_thresh3), shared by every
// namespace; the test is skipped where it cannot be read or is so large
// that overflowing it would take too long here.
func arpLimit(t *testing.T) int {
	t.Helper()
	raw, err := os.ReadFile("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
	if err != nil {
		t.Skipf("cannot read the host's gc_thresh3: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || n > 4096 {
		t.Skipf("host gc_thresh3 %q: not a default-sized table", raw)
	}
	return n
}

// overflowingStar is a star whose reach checks resolve more neighbours
// (2 per host beyond h1) than the host's ARP table holds.
func overflowingStar(t *testing.T) *scenario.Spec {
	return starReach(arpLimit(t)/2 + 20)
}

// TestNeighbourOverflowRefused: without pre-installed neighbours, a star
// too large for the host's neighbour table is refused at validation, with
// the fix; the same star with PreinstallNeighbours, and a star that fits,
// are accepted.
func TestNeighbourOverflowRefused(t *testing.T) {
	s := overflowingStar(t)
	err := s.Validate()
	if err == nil {
		t.Fatalf("%s validated: its checks overflow the host's neighbour table", s.Name)
	}
	for _, want := range []string{"gc_thresh3", "PreinstallNeighbours()"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	if err := s.PreinstallNeighbours().Validate(); err != nil {
		t.Errorf("with PreinstallNeighbours: %v", err)
	}
	if err := starReach(arpLimit(t)/2 - 20).Validate(); err != nil {
		t.Errorf("a star that fits the table: %v", err)
	}
}

// TestPreinstalledNeighbours runs a star whose ARP traffic would overflow
// the host's neighbour table with its neighbours pre-installed: every
// reach check passes and says ARP was not exercised, and h1's and the last
// host's entries are PERMANENT (seen with `ip neigh` in the node).
func TestPreinstalledNeighbours(t *testing.T) {
	hostcheck.RequireRoot(t)
	if testing.Short() {
		t.Skip("builds hundreds of namespaces")
	}
	s := overflowingStar(t).PreinstallNeighbours()
	hosts := len(s.Nodes()) - 1
	var permanent, other []string
	opt := scenario.RunOptions{Capture: func(n *scenario.Network) func(bool) []string {
		for _, name := range []string{"h1", fmt.Sprintf("h%d", hosts)} {
			c := n.Node(name).Command("ip", "-4", "neigh", "show")
			if err := c.Run(); err != nil {
				t.Errorf("ip neigh in %s: %v\n%s", name, err, c.Output())
				continue
			}
			for _, l := range strings.Split(strings.TrimSpace(c.Output()), "\n") {
				if f := strings.Fields(l); len(f) > 0 && f[len(f)-1] == "PERMANENT" {
					permanent = append(permanent, name+": "+l)
				} else {
					other = append(other, name+": "+l)
				}
			}
		}
		return func(bool) []string { return nil }
	}}
	out := scenario.Run(context.Background(), s, opt)
	if out.Status != scenario.Pass {
		var failed int
		for _, c := range out.Checks {
			if c.Status != scenario.Pass {
				failed++
			}
		}
		t.Fatalf("%s: %s %s (%d checks failed): %s", s.Name, out.Status, out.Step, failed, out.Message)
	}
	// Every host has an entry for every other: h1 and h<N> each hold
	// hosts−1 permanent entries, and none other (ARP never ran).
	if want := 2 * (hosts - 1); len(permanent) != want || len(other) > 0 {
		t.Errorf("%d permanent entries in h1 and h%d, want %d; %d others, first: %q", len(permanent), hosts, want, len(other), other[:min(3, len(other))])
	}
	for _, c := range out.Checks {
		if !strings.Contains(c.Evidence, "pre-installed") {
			t.Fatalf("check %q: the evidence does not say the neighbours were pre-installed: %s", c.Name, c.Evidence)
		}
	}
}

// TestPreinstalledNeighboursARP: in a scenario with pre-installed
// neighbours, ARPAnswered still tests the target's ARP answer (to the
// check's own request) and its evidence says that the kernel's resolution
// is not exercised; the requester's entry is the pre-installed PERMANENT
// one. Without the option, the evidence says nothing of the kind.
func TestPreinstalledNeighboursARP(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, static := range []bool{false, true} {
		s := scenario.Define(fmt.Sprintf("arp-static-%v", static), "two hosts on a switch")
		s.Switch("sw")
		s.Host("a")
		s.Host("b")
		s.Link("a", "sw")
		s.Link("b", "sw")
		s.Check("a resolves b", assert.ARPAnswered("a", "b"))
		if static {
			s.PreinstallNeighbours()
		}
		out := scenario.Run(context.Background(), s, scenario.RunOptions{})
		if out.Status != scenario.Pass {
			t.Fatalf("%s: %s %s: %s", s.Name, out.Status, out.Step, out.Message)
		}
		ev := out.Checks[0].Evidence
		if says := strings.Contains(ev, "not the kernel's address resolution"); says != static {
			t.Errorf("%s: evidence says ARP is not exercised: %v, want %v: %s", s.Name, says, static, ev)
		}
		if perm := strings.Contains(ev, "PERMANENT"); perm != static {
			t.Errorf("%s: neighbour entry PERMANENT: %v, want %v: %s", s.Name, perm, static, ev)
		}
	}
}

// TestPreinstalledNeighboursIPv6: in a dual-stack scenario the NDP entries
// are pre-installed too, PERMANENT, for the global addresses (not the
// link-local ones), and a host reaches the other over IPv6.
func TestPreinstalledNeighboursIPv6(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("ndp-static", "two hosts on a switch, dual stack")
	s.IPv6 = true
	s.Switch("sw")
	s.Host("a")
	s.Host("b")
	s.Link("a", "sw")
	s.Link("b", "sw")
	s.PreinstallNeighbours()
	n, err := scenario.Build(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	b6 := n.Node("b").IPv6()
	c := n.Node("a").Command("ip", "-6", "neigh", "show", "dev", "eth0")
	if err := c.Run(); err != nil {
		t.Fatalf("ip -6 neigh: %v\n%s", err, c.Output())
	}
	if lines := strings.Split(strings.TrimSpace(c.Output()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], b6.String()+" ") || !strings.Contains(lines[0], "PERMANENT") {
		t.Fatalf("a's NDP table is not exactly b's %s, PERMANENT:\n%s", b6, c.Output())
	}
	if _, err := assert.Ping(context.Background(), n.Node("a"), b6); err != nil {
		t.Fatal(err)
	}
}

// TestPreinstalledFDBNoFlood: with PreinstallNeighbours the switch knows,
// right after the build, every host's MAC on the host's port (a dynamic
// entry, reported as learned), and h1 knows h2's MAC, so h1's first ping
// to h2 reaches h2 only: a bystander h3 sees none of h1's frames about h2,
// neither an ARP request for h2 nor an echo request to h2's MAC flooded by
// a switch that does not know h2's port. Without it (the control) h3 sees
// h1's ARP request for h2. h3 counts those frames only, on a packet socket
// opened before the ping: a host's own multicast (IPv6 DAD, MLD) may reach
// h3 at any time and says nothing about the switch. The switch passes a
// frame to every port it floods to before h2 can answer, so once the reply
// is in, the socket holds every frame h3 was given.
func TestPreinstalledFDBNoFlood(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, pre := range []bool{false, true} {
		s := scenario.Define(fmt.Sprintf("fdb-pre-%v", pre), "three hosts on a switch")
		s.Switch("sw")
		for _, h := range []string{"h1", "h2", "h3"} {
			s.Host(h)
			s.Link(h, "sw")
		}
		if pre {
			s.PreinstallNeighbours()
		}
		n, err := scenario.Build(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		sw := n.Node("sw")
		for _, h := range []string{"h1", "h2", "h3"} {
			hi := n.Node(h).Interfaces()[0]
			var port *scenario.Interface
			for _, ifc := range sw.Interfaces() {
				if ifc.PeerNode == h {
					port = ifc
				}
			}
			entries, err := sw.Netlink().NeighList(port.Index, unix.AF_BRIDGE)
			if err != nil {
				t.Fatal(err)
			}
			found := ""
			for _, e := range entries {
				if e.HardwareAddr.String() == hi.MAC.String() {
					found = string(scenario.FDBKindOf(e))
				}
			}
			if pre && found != string(scenario.FDBLearned) {
				t.Errorf("%s: FDB entry of %s (%s) on sw:%s right after the build: %q, want %q", s.Name, h, hi.MAC, port.Name, found, scenario.FDBLearned)
			}
		}
		h1, h2, h3 := n.Node("h1").Interfaces()[0], n.Node("h2").Interfaces()[0], n.Node("h3")
		var sock *packet.Socket
		if err := h3.Do(func() error {
			var err error
			sock, err = packet.OpenIndex(h3.Interfaces()[0].Index)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := assert.Ping(context.Background(), n.Node("h1"), n.Node("h2").IPv4()); err != nil {
			sock.Close()
			t.Fatalf("%s: %v", s.Name, err)
		}
		var seen []string
		for {
			frame, err := sock.Read(time.Now())
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if about := aboutPeer(frame, h1, h2, n.Node("h2").IPv4()); about != "" {
				seen = append(seen, about)
			}
		}
		sock.Close()
		if (len(seen) > 0) == pre {
			t.Errorf("%s: h3 saw %d of h1's frames about h2 during h1's first ping to h2 %q; want %s", s.Name, len(seen), seen, map[bool]string{true: "none (h1 knows h2's MAC, the switch knows h2's port)", false: "h1's ARP request for h2 (control)"}[pre])
		}
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// aboutPeer says what frame is when it is from's frame about to (with
// address toIP): an ARP request for toIP or a frame to to's MAC; "" for
// any other.
func aboutPeer(frame []byte, from, to *scenario.Interface, toIP netip.Addr) string {
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	eth, ok := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if !ok || eth.SrcMAC.String() != from.MAC.String() {
		return ""
	}
	if eth.DstMAC.String() == to.MAC.String() {
		return fmt.Sprintf("frame to %s (ethertype %s)", to.MAC, eth.EthernetType)
	}
	if arp, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); ok && arp.Operation == layers.ARPRequest {
		if ip, ok := netip.AddrFromSlice(arp.DstProtAddress); ok && ip == toIP {
			return "ARP request for " + ip.String()
		}
	}
	return ""
}

// kernelTable reads a node's ARP table as the kernel has it (see
// scenario.KernelNeighbours), and fails the test on any entry that is not
// PERMANENT: one the kernel resolved by ARP.
func kernelTable(t *testing.T, nd *scenario.Node) map[string]bool {
	t.Helper()
	table, err := scenario.KernelNeighbours(nd, unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	for ip, permanent := range table {
		if !permanent {
			t.Errorf("%s resolved %s by ARP: with pre-installed neighbours it never should", nd.Name(), ip)
		}
	}
	return table
}

// buildPreinstalledStar builds one switch on subnet with hosts h1…hN and
// pre-installed neighbours; the test's cleanup closes it.
func buildPreinstalledStar(t *testing.T, name, subnet string, hosts int) *scenario.Network {
	t.Helper()
	hostcheck.RequireRoot(t)
	s := scenario.Define(name, fmt.Sprintf("one switch, %d hosts", hosts)).PreinstallNeighbours()
	s.Switch("sw").Subnet(subnet)
	for i := 1; i <= hosts; i++ {
		s.Host(fmt.Sprintf("h%d", i))
		s.Link(fmt.Sprintf("h%d", i), "sw")
	}
	n, err := scenario.Build(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// TestNeighboursInstalledOnFirstUse: a host's pre-installed neighbours go
// in at its first use, and no use can tell. In a star of 40 hosts, right
// after the build, no host has an entry (the kernel's table, read without
// using the node). h1 pings h5: h1 then has all 39, every other host has
// its entry for h1 (h5 answers without ARP), and nothing was resolved by
// ARP. h5's table read through Netlink, and h9's from Do, show all 39,
// as from the start. The fourth host used (a tenth of 40) brings every
// other host's entries in at once.
func TestNeighboursInstalledOnFirstUse(t *testing.T) {
	const hosts = 40
	n := buildPreinstalledStar(t, "lazy-neighbours", "10.201.0.0/24", hosts)
	h := func(i int) *scenario.Node { return n.Node(fmt.Sprintf("h%d", i)) }
	for i := 1; i <= hosts; i++ {
		if table := kernelTable(t, h(i)); len(table) != 0 {
			t.Fatalf("h%d has %d entries right after the build, before any use: the pre-install is not lazy", i, len(table))
		}
	}
	if _, err := assert.Ping(context.Background(), h(1), h(5).IPv4()); err != nil {
		t.Fatal(err)
	}
	if got := len(kernelTable(t, h(1))); got != hosts-1 {
		t.Errorf("h1, used: %d entries, want %d", got, hosts-1)
	}
	h1 := h(1).IPv4().String()
	for i := 2; i <= hosts; i++ {
		if table := kernelTable(t, h(i)); len(table) != 1 || !table[h1] {
			t.Errorf("h%d, not used: entries %v, want only h1's %s", i, table, h1)
		}
	}
	table, err := h(5).Netlink().NeighList(0, unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	if len(table) != hosts-1 {
		t.Errorf("h5's table read through Netlink: %d entries, want %d", len(table), hosts-1)
	}
	c := h(9).Command("ip", "-4", "neigh", "show", "nud", "permanent")
	if err := c.Run(); err != nil {
		t.Fatalf("ip neigh in h9: %v\n%s", err, c.Output())
	}
	if lines := strings.Split(strings.TrimSpace(c.Output()), "\n"); len(lines) != hosts-1 {
		t.Errorf("h9's permanent entries seen by ip neigh: %d, want %d:\n%s", len(lines), hosts-1, c.Output())
	}
	// h1, h5, h9 used one at a time; the fourth is a tenth of 40.
	if _, err := h(13).Listen("tcp", ":0"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= hosts; i++ {
		if got := len(kernelTable(t, h(i))); got != hosts-1 {
			t.Errorf("h%d after the fourth use: %d entries, want %d", i, got, hosts-1)
		}
	}
}

// TestNeighboursOfForwardersAtBuild: a router's neighbours, and its
// neighbours' entries for it, are in from the build; a host reaches a host
// behind the router, and nothing on the way (the hosts, the router) was
// resolved by ARP.
func TestNeighboursOfForwardersAtBuild(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("lazy-neighbours-routed", "two switches of 12 hosts, a router between").PreinstallNeighbours()
	s.Router("r")
	for _, sw := range []string{"a", "b"} {
		s.Switch(sw)
		s.Link("r", sw)
		for i := 1; i <= 12; i++ {
			h := fmt.Sprintf("%s%d", sw, i)
			s.Host(h).Route("default", "r")
			s.Link(h, sw)
		}
	}
	n, err := scenario.Build(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := len(kernelTable(t, n.Node("r"))); got != 24 {
		t.Errorf("r right after the build: %d entries, want 24 (it forwards)", got)
	}
	if table := kernelTable(t, n.Node("b7")); len(table) != 1 {
		t.Errorf("b7 right after the build: entries %v, want only the router's", table)
	}
	if _, err := assert.Ping(context.Background(), n.Node("a3"), n.Node("b7").IPv4()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a3", "r", "b7"} {
		kernelTable(t, n.Node(name))
	}
}

// TestNeighboursOfAStep: a built-in step acts in the nodes it names, so
// their pre-installed entries go in before it, as if installed at build,
// and what the step does to them is what it would do to those: setting
// h5's interface down flushes h5's entries, permanent ones too (the
// kernel's rule for an interface set down), while h4, never used, has its
// entry for h5 from the step on.
func TestNeighboursOfAStep(t *testing.T) {
	n := buildPreinstalledStar(t, "step-neighbours", "10.202.0.0/24", 12)
	ctx := context.Background()
	if err := n.Apply(ctx, scenario.LinkDown("h5:eth0")); err != nil {
		t.Fatal(err)
	}
	if err := n.Apply(ctx, scenario.LinkUp("h5:eth0")); err != nil {
		t.Fatal(err)
	}
	h5 := n.Node("h5").IPv4().String()
	if table := kernelTable(t, n.Node("h4")); len(table) != 1 || !table[h5] {
		t.Errorf("h4, not used, after a step in h5: entries %v, want only h5's %s", table, h5)
	}
	if table := kernelTable(t, n.Node("h5")); len(table) != 0 {
		t.Errorf("h5 after its interface was set down and up: entries %v, want none (the kernel flushes an interface's entries when it is set down)", table)
	}
}
