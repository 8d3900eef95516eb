package scenario_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
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

func pair(name string) *scenario.Spec {
	s := scenario.Define(name, "two hosts")
	s.Host("left")
	s.Host("right")
	s.Link("left", "right")
	return s
}

// witness holds one veth end per node of a network in a namespace of its
// own; the kernel deletes a witness link when the node's namespace dies.
type witness struct {
	ns netns.NsHandle
	h  *netlink.Handle
}

func newWitness(t *testing.T, n *scenario.Network) *witness {
	t.Helper()
	ns, err := nsx.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	w := &witness{ns: ns, h: h}
	t.Cleanup(func() { h.Close(); ns.Close() })
	for i, nd := range n.Nodes() {
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("w%d", i)}, PeerName: "witness0", PeerNamespace: netlink.NsFd(nd.NamespaceFd())}
		if err := h.LinkAdd(v); err != nil {
			t.Fatalf("witness link into %s: %v", nd.Name(), err)
		}
	}
	return w
}

// gone waits until every node namespace has been freed by the kernel.
func (w *witness) gone(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		links, err := w.h.LinkList()
		if err != nil {
			t.Fatal(err)
		}
		if len(links) == 1 { // lo
			return
		}
		if time.Now().After(deadline) {
			var names []string
			for _, l := range links {
				names = append(names, l.Attrs().Name)
			}
			t.Fatalf("namespaces still alive 10s after teardown (witness links %v): something pins them", names)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}

func TestBuildPingsBothWays(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair("ping"))
	l, r := n.Node("left"), n.Node("right")
	assert.Reachable(t, l, r)
	assert.Reachable(t, r, l)
	for _, nd := range n.Nodes() {
		ifc := nd.Interface("eth0")
		if ifc == nil || ifc.MAC == nil || ifc.Index == 0 {
			t.Errorf("%s eth0 = %+v, want index and MAC", nd.Name(), ifc)
		}
		if v, _ := nd.Sysctl("net.ipv4.ip_forward"); v != "0" {
			t.Errorf("%s ip_forward = %s on a host", nd.Name(), v)
		}
	}
}

// TestIPv4OnlyHasNoIPv6 shows that an IPv4-only scenario's interfaces carry
// no IPv6 at all (no link-local address, hence no router solicitations or
// MLD reports on the wire); only lo keeps ::1.
func TestIPv4OnlyHasNoIPv6(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair("v4only"))
	for _, nd := range n.Nodes() {
		addrs, err := nd.Netlink().AddrList(nil, netlink.FAMILY_V6)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			if a.LinkIndex != 1 {
				t.Errorf("%s: IPv6 address %s on interface %d of an IPv4-only scenario", nd.Name(), a.IPNet, a.LinkIndex)
			}
		}
		if v, _ := nd.Sysctl("net.ipv6.conf.eth0.disable_ipv6"); v != "1" {
			t.Errorf("%s: eth0 disable_ipv6 = %q, want 1", nd.Name(), v)
		}
	}
}

// TestLinkQueues: veth ends get one queue each unless the link asks for
// more (the kernel's default would be one per possible CPU).
func TestLinkQueues(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("queues", "")
	s.Host("a")
	s.Host("b")
	s.Host("c")
	s.Link("a", "b")
	s.Link("a", "c").Queues(4)
	n := scenario.New(t, s)
	for _, c := range []struct {
		node, iface string
		want        int
	}{{"a", "eth0", 1}, {"b", "eth0", 1}, {"a", "eth1", 4}, {"c", "eth0", 4}} {
		l, err := n.Node(c.node).Netlink().LinkByName(c.iface)
		if err != nil {
			t.Fatal(err)
		}
		if tx, rx := l.Attrs().NumTxQueues, l.Attrs().NumRxQueues; tx != c.want || rx != c.want {
			t.Errorf("%s:%s has %d tx and %d rx queues, want %d", c.node, c.iface, tx, rx, c.want)
		}
	}
}

func TestIPv6WithoutDADStall(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := pair("v6")
	s.IPv6 = true
	n := scenario.New(t, s)
	// With DAD, addresses stay tentative for ~1.5 s after Build, and a
	// tentative source cannot be used: the first ping (1 s timeout) fails.
	for _, nd := range n.Nodes() {
		addrs, err := nd.Netlink().AddrList(nil, netlink.FAMILY_V6)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			if a.Flags&unix.IFA_F_TENTATIVE != 0 {
				t.Errorf("%s: %s is tentative", nd.Name(), a.IPNet)
			}
		}
	}
	r, err := assert.Ping(context.Background(), n.Node("left"), n.Node("right").IPv6())
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Evidence())
}

func TestTeardownFreesEverything(t *testing.T) {
	hostcheck.RequireRoot(t)
	before := hostcheck.Take(t)
	s := scenario.Define("teardown", "")
	s.Switch("sw")
	s.Router("r").Masquerade("wan")
	s.Host("a").Route("default", "r")
	s.Host("o")
	s.Link("a", "sw")
	s.Link("r:lan", "sw")
	s.Link("r:wan", "o")
	n, err := scenario.Build(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	w := newWitness(t, n)
	cmd := n.Node("a").Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process().Pid
	assert.Reachable(t, n.Node("a"), n.Node("o"))
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still alive after Close: %v", pid, err)
	}
	w.gone(t)
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	hostcheck.Unchanged(t, before)
}

func TestTeardownAfterPanicFailureAndCancel(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, tc := range []struct {
		name   string
		check  scenario.CheckFunc
		cancel bool
		want   scenario.Status
	}{
		{"panic", func(context.Context, *scenario.Network) scenario.Result { panic("boom") }, false, scenario.Fail},
		{"failure", func(context.Context, *scenario.Network) scenario.Result {
			return scenario.Verdict("", errors.New("broken"))
		}, false, scenario.Fail},
		{"cancel", func(ctx context.Context, n *scenario.Network) scenario.Result {
			<-ctx.Done()
			return scenario.Verdict("", ctx.Err())
		}, true, scenario.Interrupted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := pair("t-" + tc.name)
			var w *witness
			var pid int
			s.Check("spy", func(ctx context.Context, n *scenario.Network) scenario.Result {
				w = newWitness(t, n)
				c := n.Node("left").Command("sleep", "1000")
				if err := c.Start(); err != nil {
					return scenario.Verdict("", err)
				}
				pid = c.Process().Pid
				return scenario.Result{}
			})
			s.Check(tc.name, tc.check)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			out := scenario.Run(ctx, s, scenario.RunOptions{DumpState: true})
			if out.Status != tc.want {
				t.Fatalf("status %s, want %s: %+v", out.Status, tc.want, out)
			}
			if tc.name == "panic" && !strings.Contains(out.Checks[1].Message, "panic: boom") {
				t.Errorf("panic not reported: %q", out.Checks[1].Message)
			}
			if tc.name == "failure" && !strings.Contains(out.State, "node left") {
				t.Errorf("no state dump after failure: %q", out.State)
			}
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("process %d alive after teardown", pid)
			}
			w.gone(t)
		})
	}
}

// TestProcessDiesWithRun kills a process that built a network and started
// a daemon in it, with SIGKILL: the daemon dies too (parent-death signal)
// and the namespaces go with the process.
func TestProcessDiesWithRun(t *testing.T) {
	hostcheck.RequireRoot(t)
	if os.Getenv("VTEST_HELPER") == "1" {
		n := scenario.New(t, pair("helper"))
		c := n.Node("left").Command("sleep", "1000")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("PID %d\n", c.Process().Pid)
		select {} // wait to be killed
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestProcessDiesWithRun$")
	cmd.Env = append(os.Environ(), "VTEST_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	nread, _ := out.Read(buf)
	line := strings.TrimSpace(string(buf[:nread]))
	pid, err := strconv.Atoi(strings.TrimPrefix(line, "PID "))
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("helper said %q", line)
	}
	cmd.Process.Kill() // SIGKILL: no cleanup code runs
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("daemon %d survived the SIGKILL of its vtest process", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDaemonDiesAtTeardown starts a process in a node (StartProcess) that
// forks a daemon the way daemons start: a child in a session of its own
// (setsid) that forks the daemon and exits, leaving it with parent PID 1,
// outside the started process's group. Teardown kills it all the same,
// found by its namespace, without waiting out its bound for a process that
// does not die.
func TestDaemonDiesAtTeardown(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair("daemon"))
	pidFile := filepath.Join(t.TempDir(), "daemon.pid")
	err := n.Apply(context.Background(), scenario.StartProcess("left", "daemon",
		"sh", "-c", `setsid sh -c 'sleep 1000 & echo $! > "$1"' sh "$1" & wait`, "sh", pidFile))
	if err != nil {
		t.Fatal(err)
	}
	pid := 0
	deadline := time.Now().Add(10 * time.Second)
	for pid == 0 {
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		if pid == 0 && time.Now().After(deadline) {
			t.Fatalf("the daemon never wrote its PID")
		}
		time.Sleep(5 * time.Millisecond) // polling its PID file, with a deadline
	}
	// The started process shares this process's session; the daemon not.
	ours, _ := unix.Getsid(0)
	if sid, err := unix.Getsid(pid); err != nil || sid == ours {
		t.Fatalf("daemon %d: session %d (%v), want another than %d", pid, sid, err, ours)
	}
	start := time.Now()
	if err := n.Close(); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	took := time.Since(start)
	t.Logf("teardown with a daemon took %v", took)
	if alive(pid) {
		t.Errorf("daemon %d survived the teardown", pid)
	}
	if took >= 5*time.Second {
		t.Errorf("teardown took %v: it waited out its bound for a process that did not die", took)
	}
}

// alive reports whether process pid exists and has not exited (a zombie
// waiting for its parent to reap it has exited).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(after, "Z")
}

func TestDoNeverPoisonsThreads(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair("threads"))
	nd := n.Node("left")
	host, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			_ = nd.Do(func() error {
				cur, err := netns.Get()
				if err != nil {
					return err
				}
				defer cur.Close()
				if cur.Equal(host) {
					t.Error("Do ran in the host namespace")
				}
				return nil
			})
		})
	}
	wg.Wait()
	// A panicking function must not leave its thread in the namespace.
	if err := nd.Do(func() error { panic("inside") }); err == nil || !strings.Contains(err.Error(), "panic") {
		t.Errorf("panic in Do: %v", err)
	}
	wrong := 0
	var mu sync.Mutex
	for range 2000 {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cur, err := netns.Get()
			if err != nil {
				return
			}
			defer cur.Close()
			if !cur.Equal(host) {
				mu.Lock()
				wrong++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wrong > 0 {
		t.Errorf("%d goroutines ran in a foreign namespace after Do", wrong)
	}
}

func TestParallelScenariosDoNotClash(t *testing.T) {
	hostcheck.RequireRoot(t)
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			// The same names and addresses in every copy.
			n := scenario.New(t, pair("parallel"))
			assert.Reachable(t, n.Node("left"), n.Node("right"))
		})
	}
}

func TestBuildRejectsUnbuildableSysctl(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := pair("sysctl")
	// A value only the kernel can judge: the build fails in its first step
	// and names the sysctl; what was created is torn down.
	s.Nodes()[0].Sysctl("net.ipv4.ip_forward", "banana")
	before := hostcheck.Take(t)
	_, err := scenario.Build(context.Background(), s)
	var be *scenario.BuildError
	if !errors.As(err, &be) || be.Step != "create namespaces" || !strings.Contains(err.Error(), "net.ipv4.ip_forward=banana") {
		t.Fatalf("err = %v", err)
	}
	hostcheck.Unchanged(t, before)
}

func TestFeatureProbes(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, f := range scenario.AllFeatures {
		err := f.Probe()
		if err != nil && !errors.Is(err, scenario.ErrNotSupported) {
			t.Errorf("probe %s: unexpected error %v", f, err)
		}
		t.Logf("%-10s %v", f, err)
	}
	for _, f := range []scenario.Feature{scenario.FeatureVeth, scenario.FeatureBridge, scenario.FeatureMasquerade} {
		if err := f.Probe(); err != nil {
			t.Errorf("vtest cannot work without %s: %v", f, err)
		}
	}
}

func TestRouteAndAddressHelpers(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := scenario.Define("multi", "")
	s.Host("a")
	s.Router("r")
	s.Host("b").Route("default", "r")
	s.Link("a", "r").Subnet("10.1.0.0/24")
	s.Link("r", "b").Subnet("10.2.0.0/24")
	n := scenario.New(t, s)
	if got := n.Node("r").AddrOn(netip.MustParseAddr("10.2.0.2")); got.String() != "10.2.0.2" && got.String() != "10.2.0.1" {
		t.Errorf("AddrOn = %v", got)
	}
	routes, err := n.Node("b").Netlink().RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range routes {
		if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
			found = r.Gw.String() == "10.2.0.1"
		}
	}
	if !found {
		t.Errorf("b has no default route via 10.2.0.1: %v", routes)
	}
}
