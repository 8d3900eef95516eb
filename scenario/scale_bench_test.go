package scenario_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/internal/nsx"
	"github.com/vtest-dev/vtest/scenario"
)

// starReach is the shape of issue 13: one switch with hosts h1…hN, and
// N−1 checks that h1 reaches every other host.
func starReach(hosts int) *scenario.Spec {
	s := scenario.Define(fmt.Sprintf("star%d", hosts), "one switch, every host reached from h1")
	s.Switch("sw").Subnet("10.201.0.0/16")
	for i := 1; i <= hosts; i++ {
		h := fmt.Sprintf("h%d", i)
		s.Host(h)
		s.Link(h, "sw")
	}
	for i := 2; i <= hosts; i++ {
		s.Check(fmt.Sprintf("h1 reaches h%d", i), assert.Reach("h1", fmt.Sprintf("h%d", i)))
	}
	return s
}

// phases are the figures of one scenario run.
type phases struct {
	build, checks, teardown, gone, total time.Duration
}

// runStar runs starReach(hosts) through scenario.Run and splits its time:
// build, checks, teardown (Close returning) and gone (Close returning until
// the kernel has really freed every namespace, seen by a witness).
func runStar(b *testing.B, hosts int, parallel, preinstall bool) phases {
	b.Helper()
	var w *nsWitness
	var checksStart, checksEnd time.Time
	opt := scenario.RunOptions{Capture: func(n *scenario.Network) func(bool) []string {
		w = watchNamespaces(b, n)
		checksStart = time.Now()
		return func(bool) []string { checksEnd = time.Now(); return nil }
	}}
	s := starReach(hosts)
	if parallel {
		s.Parallel()
	}
	if preinstall {
		s.PreinstallNeighbours()
	}
	out := scenario.Run(context.Background(), s, opt)
	closed := time.Now()
	if out.Status != scenario.Pass {
		var failed int
		for _, c := range out.Checks {
			if c.Status != scenario.Pass {
				failed++
			}
		}
		b.Fatalf("star%d: %s %s (%d checks failed): %s", hosts, out.Status, out.Step, failed, out.Message)
	}
	p := phases{build: out.Build, checks: checksEnd.Sub(checksStart), teardown: out.Teardown, total: out.Duration}
	p.gone = w.wait(b).Sub(closed) + out.Teardown
	w.close()
	return p
}

// nsWitness observes, from a namespace of its own, when the kernel frees
// a network's namespaces: it holds one veth end whose peer lives in each
// node's namespace, and the kernel deletes that end only when the node's
// namespace dies. It starts no process there, so it takes the namespaces
// without marking the nodes for teardown's process scan (Node.NamespaceFd
// would), and the teardown measured is the one without a witness.
type nsWitness struct {
	ns     netns.NsHandle
	h      *netlink.Handle
	left   int
	events chan netlink.LinkUpdate
	done   chan struct{}
	goneAt time.Time
}

func watchNamespaces(b testing.TB, n *scenario.Network) *nsWitness {
	b.Helper()
	ns, err := nsx.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		b.Fatal(err)
	}
	w := &nsWitness{ns: ns, h: h, events: make(chan netlink.LinkUpdate, 4096), done: make(chan struct{})}
	if err := netlink.LinkSubscribeAt(ns, w.events, w.done); err != nil {
		b.Fatal(err)
	}
	for i, nd := range n.Nodes() {
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("w%d", i)}, PeerName: "witness0", PeerNamespace: netlink.NsFd(scenario.WitnessFd(nd))}
		if err := h.LinkAdd(v); err != nil {
			b.Fatalf("witness link into %s: %v", nd.Name(), err)
		}
		w.left++
	}
	return w
}

// wait returns when the last witness link is gone: every namespace of the
// network has been freed.
func (w *nsWitness) wait(b testing.TB) time.Time {
	if !w.goneAt.IsZero() {
		return w.goneAt
	}
	deadline := time.After(60 * time.Second)
	for w.left > 0 {
		select {
		case u := <-w.events:
			if u.Header.Type == unix.RTM_DELLINK && u.Attrs().Name != "witness0" {
				w.left--
			}
		case <-deadline:
			b.Fatalf("%d namespaces still alive 60 s after teardown", w.left)
		}
	}
	w.goneAt = time.Now()
	return w.goneAt
}

func (w *nsWitness) close() {
	close(w.done)
	w.h.Close()
	w.ns.Close()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// largeStar is the N of the large star: 1000 (issue 13), run with its
// neighbours pre-installed (Spec.PreinstallNeighbours). The kernel keeps
// one ARP table for every namespace of the host, capped at
// net.ipv4.neigh.default.gc_thresh3 (1024 by default), and h1 reaching 999
// hosts would resolve about 2000 neighbours at once; permanent entries are
// exempt from the cap, and vtest never changes the host's sysctls.
// VTEST_STAR_LARGE overrides the figure.
func largeStar(b *testing.B) int {
	if v, err := strconv.Atoi(os.Getenv("VTEST_STAR_LARGE")); err == nil {
		return v
	}
	return 1000
}

// arpEntries is the number of entries of the host's ARP table (every
// namespace's), from /proc/net/stat/arp_cache; -1 if it cannot be read.
func arpEntries() int {
	raw, err := os.ReadFile("/proc/net/stat/arp_cache")
	if err != nil {
		return -1
	}
	lines := strings.Split(string(raw), "\n")
	if len(lines) < 2 {
		return -1
	}
	f := strings.Fields(lines[1])
	if len(f) == 0 {
		return -1
	}
	n, err := strconv.ParseUint(f[0], 16, 64)
	if err != nil {
		return -1
	}
	return int(n)
}

// waitNeighboursFreed returns when the host's ARP table holds at most
// limit entries again: the kernel frees a run's namespaces, and with them
// their neighbour entries, after the process exited. A run measured while
// it still frees the previous one's would measure that too.
func waitNeighboursFreed(b *testing.B, limit int) {
	if limit < 0 {
		return
	}
	deadline := time.Now().Add(2 * time.Minute)
	for n := arpEntries(); n > limit; n = arpEntries() {
		if time.Now().After(deadline) {
			b.Fatalf("the host's ARP table still holds %d entries 2 min after the run (at most %d before)", n, limit)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, with a deadline
	}
}

// waitQuiet returns when the machine's CPUs have been at least 90% idle
// over a tenth of a second: the kernel has finished freeing the previous
// run's namespaces (a kernel worker, after the process exits) and nothing
// else competes. On a machine that stays busy it gives up after a minute
// and reports that in the "unquiet" metric rather than fail.
func waitQuiet() bool {
	deadline := time.Now().Add(time.Minute)
	busy0, total0 := cpuTimes()
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // the window the condition is measured over
		busy1, total1 := cpuTimes()
		if total1 > total0 && float64(busy1-busy0) <= 0.1*float64(total1-total0) {
			return true
		}
		busy0, total0 = busy1, total1
	}
	return false
}

// cpuTimes reads the busy and total jiffies of every CPU from /proc/stat.
func cpuTimes() (busy, total uint64) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// BenchmarkStarScale runs the issue-13 shape in process for N=50 and the
// large N (1000 where the host's neighbour table allows, see largeStar) in
// every iteration, so that their ratio is measured in one run (the large
// one with its neighbours pre-installed, see largeStar). Goal:
// linear, i.e. "per-host-ratio" = (large/small time) / (N/50) ≤ 1. Each
// phase is reported for both: build, checks, teardown (Close returns) and
// gone (until the kernel has freed every namespace); and the large star's
// checks once more with the scenario declared Parallel.
func BenchmarkStarScale(b *testing.B) {
	hostcheck.RequireRoot(b)
	big := largeStar(b)
	var small, large phases
	var par time.Duration // the large star's checks, declared Parallel
	runs := 0
	for b.Loop() {
		s, l := runStar(b, 50, false, false), runStar(b, big, false, true)
		par += runStar(b, big, true, true).checks
		small.build += s.build
		small.checks += s.checks
		small.teardown += s.teardown
		small.gone += s.gone
		small.total += s.total
		large.build += l.build
		large.checks += l.checks
		large.teardown += l.teardown
		large.gone += l.gone
		large.total += l.total
		runs++
	}
	r := float64(runs)
	for _, x := range []struct {
		name string
		p    phases
	}{{"small", small}, {"large", large}} {
		b.ReportMetric(ms(x.p.total)/r, x.name+"-ms")
		b.ReportMetric(ms(x.p.build)/r, x.name+"-build-ms")
		b.ReportMetric(ms(x.p.checks)/r, x.name+"-checks-ms")
		b.ReportMetric(ms(x.p.teardown)/r, x.name+"-teardown-ms")
		b.ReportMetric(ms(x.p.gone)/r, x.name+"-gone-ms")
	}
	b.ReportMetric(ms(par)/r, "large-parallel-checks-ms")
	b.ReportMetric(float64(big), "large-hosts")
	ratio := float64(large.total) / float64(small.total)
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(ratio/(float64(big)/50), "per-host-ratio")
}

// TestStarProcess is the body of BenchmarkStarProcess: it runs when
// VTEST_STAR_HOSTS is set, with pre-installed neighbours when
// VTEST_STAR_PREINSTALL=1.
func TestStarProcess(t *testing.T) {
	hosts, err := strconv.Atoi(os.Getenv("VTEST_STAR_HOSTS"))
	if err != nil {
		t.Skip("run by BenchmarkStarProcess (VTEST_STAR_HOSTS)")
	}
	s := starReach(hosts)
	if os.Getenv("VTEST_STAR_PREINSTALL") == "1" {
		s.PreinstallNeighbours()
	}
	out := scenario.Run(context.Background(), s, scenario.RunOptions{})
	if out.Status != scenario.Pass {
		t.Fatalf("%s %s: %s", out.Status, out.Step, out.Message)
	}
}

// BenchmarkStarProcess runs the issue-13 shape as a whole process (this
// test binary, started anew: Go runtime start, build, checks, teardown,
// exit) for N=50 and N=1000, both with pre-installed neighbours (so that
// their ratio compares one way of building), three of each per iteration,
// and reports the median and the fastest wall times, their ratio and the
// peak RSS. Before each run it pauses until the kernel has freed the
// previous run's neighbour entries (see waitNeighboursFreed) and the
// machine is quiet (see waitQuiet): a run started while the kernel still
// frees the namespaces of a large one is slower for it.
func BenchmarkStarProcess(b *testing.B) {
	hostcheck.RequireRoot(b)
	base := arpEntries()
	unquiet := 0
	run := func(hosts int) (time.Duration, int64) {
		waitNeighboursFreed(b, base+64)
		if !waitQuiet() {
			unquiet++
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestStarProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "VTEST_STAR_HOSTS="+strconv.Itoa(hosts), "VTEST_STAR_PREINSTALL=1")
		t := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("star%d: %v\n%s", hosts, err, out)
		}
		d := time.Since(t)
		return d, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB
	}
	big := largeStar(b)
	var small, large []time.Duration
	var rssSmall, rssLarge []int64
	for b.Loop() {
		for range 3 {
			d, r := run(50)
			small, rssSmall = append(small, d), append(rssSmall, r)
		}
		for range 3 {
			d, r := run(big)
			large, rssLarge = append(large, d), append(rssLarge, r)
		}
	}
	s50, sBig := median(small), median(large)
	b.ReportMetric(ms(s50), "star50-ms")
	b.ReportMetric(ms(slices.Min(small)), "star50-fastest-ms")
	b.ReportMetric(ms(sBig), "large-ms")
	b.ReportMetric(ms(slices.Min(large)), "large-fastest-ms")
	b.ReportMetric(float64(big), "large-hosts")
	b.ReportMetric(float64(sBig)/float64(s50), "ratio")
	b.ReportMetric(float64(slices.Min(large))/float64(slices.Min(small)), "fastest-ratio")
	b.ReportMetric(float64(sBig)/float64(s50)/(float64(big)/50), "per-host-ratio")
	b.ReportMetric(float64(slices.Max(rssSmall))/1024, "star50-peak-rss-MiB")
	b.ReportMetric(float64(slices.Max(rssLarge))/1024, "large-peak-rss-MiB")
	b.ReportMetric(float64(unquiet), "unquiet")
}

// twoNamespacesOnce builds the two-namespace scenario, pings once and
// tears down; with watch it also waits until the kernel freed both
// namespaces.
func twoNamespacesOnce(b *testing.B, s *scenario.Spec, watch bool) (total, teardown, gone time.Duration) {
	ctx := context.Background()
	t0 := time.Now()
	n, err := scenario.Build(ctx, s)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := assert.Ping(ctx, n.Node("left"), n.Node("right").IPv4()); err != nil {
		b.Fatal(err)
	}
	var w *nsWitness
	if watch {
		b.StopTimer()
		w = watchNamespaces(b, n)
		b.StartTimer()
	}
	t1 := time.Now()
	if err := n.Close(); err != nil {
		b.Fatal(err)
	}
	teardown = time.Since(t1)
	total = time.Since(t0)
	if w != nil {
		gone = w.wait(b).Sub(t1)
		w.close()
	}
	return total, teardown, gone
}

// BenchmarkTwoNamespacesGone is the two-namespace scenario (build, one
// ping, teardown) with the kernel-side teardown: "teardown-ms" is Close
// returning, "gone-ms" is Close until the kernel has freed both namespaces
// (a witness veth in each, which the kernel deletes only when the
// namespace dies).
func BenchmarkTwoNamespacesGone(b *testing.B) {
	hostcheck.RequireRoot(b)
	s := pair("bench-gone")
	var down, gone []time.Duration
	for b.Loop() {
		_, d, g := twoNamespacesOnce(b, s, true)
		down, gone = append(down, d), append(gone, g)
	}
	b.ReportMetric(ms(median(down)), "teardown-ms")
	b.ReportMetric(ms(median(gone)), "gone-ms")
}

// BenchmarkTwoNamespacesDrift runs the two-namespace scenario 200 times
// back to back, as go test -count 200 does, without waiting for the
// kernel to free the namespaces, and compares the median of the first 20
// runs with that of the last 20: "last/first" ≈ 1 means the kernel's
// asynchronous cleanup does not pile up and slow later scenarios.
func BenchmarkTwoNamespacesDrift(b *testing.B) {
	hostcheck.RequireRoot(b)
	s := pair("bench-drift")
	var first, last float64
	for b.Loop() {
		runs := make([]time.Duration, 200)
		for i := range runs {
			runs[i], _, _ = twoNamespacesOnce(b, s, false)
		}
		first += ms(median(runs[:20]))
		last += ms(median(runs[180:]))
	}
	b.ReportMetric(first/float64(b.N), "first20-median-ms")
	b.ReportMetric(last/float64(b.N), "last20-median-ms")
	b.ReportMetric(last/first, "last/first")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
