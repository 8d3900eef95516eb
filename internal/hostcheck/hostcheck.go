// Package hostcheck snapshots the root network namespace and the processes
// in other namespaces, so tests can prove a run left the host untouched and
// nothing behind. It is test support: vtest itself never reads the host.
package hostcheck

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Snapshot is the state of the host's networking and of foreign-namespace
// processes at one moment.
type Snapshot struct {
	Net   []string          // links, addresses, routes, rules, nft ruleset, sysctls, /run/netns
	Tools map[string]string // the same through ip(8) and nft(8), when installed
	Procs map[int]string    // pid -> "comm netns" for processes outside the host namespace
}

// sysctls whose host value a run must never change.
var sysctls = []string{
	"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding",
	"net/ipv4/conf/all/rp_filter", "net/ipv4/conf/default/rp_filter",
	"net/ipv4/conf/all/accept_local", "net/ipv4/conf/default/accept_local",
	"net/ipv4/conf/all/arp_ignore", "net/ipv4/conf/default/arp_ignore",
	"net/ipv4/conf/all/arp_announce", "net/ipv4/ping_group_range",
	"net/ipv6/conf/all/accept_dad", "net/ipv6/conf/default/accept_dad",
	"net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6",
	"net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables", "net/bridge/bridge-nf-call-arptables",
}

// Take snapshots the host. It must run on a thread in the host namespace
// (any goroutine of a vtest test is).
func Take(t testing.TB) Snapshot {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s := Snapshot{Tools: map[string]string{}, Procs: map[int]string{}}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("hostcheck: %v", err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		t.Fatalf("hostcheck: links: %v", err)
	}
	for _, l := range links {
		a := l.Attrs()
		s.Net = append(s.Net, fmt.Sprintf("link %d %s %s mtu %d mac %s master %d flags %v", a.Index, a.Name, l.Type(), a.MTU, a.HardwareAddr, a.MasterIndex, a.Flags))
		addrs, _ := h.AddrList(l, netlink.FAMILY_ALL)
		for _, ad := range addrs {
			s.Net = append(s.Net, fmt.Sprintf("addr %s %s", a.Name, ad.IPNet))
		}
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		routes, _ := h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		for _, r := range routes {
			s.Net = append(s.Net, fmt.Sprintf("route table %d %v via %v dev %d proto %d", r.Table, r.Dst, r.Gw, r.LinkIndex, r.Protocol))
		}
		rules, _ := h.RuleList(fam)
		for _, r := range rules {
			s.Net = append(s.Net, fmt.Sprintf("rule %d table %d %v %v", r.Priority, r.Table, r.Src, r.Dst))
		}
	}
	if c, err := nftables.New(); err == nil {
		tables, err := c.ListTables()
		if err != nil {
			s.Net = append(s.Net, "nft error "+err.Error())
		}
		for _, tb := range tables {
			s.Net = append(s.Net, fmt.Sprintf("nft table %d %s", tb.Family, tb.Name))
			chains, _ := c.ListChainsOfTableFamily(tb.Family)
			for _, ch := range chains {
				rules, _ := c.GetRules(ch.Table, ch)
				s.Net = append(s.Net, fmt.Sprintf("nft chain %s %s rules %d", ch.Table.Name, ch.Name, len(rules)))
			}
		}
	}
	for _, k := range sysctls {
		if b, err := os.ReadFile("/proc/sys/" + k); err == nil {
			s.Net = append(s.Net, fmt.Sprintf("sysctl %s = %s", k, strings.TrimSpace(string(b))))
		}
	}
	// Namespaces held by bind mounts anywhere (ip netns add, or a leak).
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, " - nsfs ") {
				f := strings.Fields(line)
				s.Net = append(s.Net, "nsfs mount "+f[4]+" "+f[3])
			}
		}
	}
	// Legacy iptables tables (iptables-nft ones are in the nft ruleset).
	for _, f := range []string{"/proc/net/ip_tables_names", "/proc/net/ip6_tables_names", "/proc/net/arp_tables_names"} {
		if b, err := os.ReadFile(f); err == nil {
			s.Net = append(s.Net, fmt.Sprintf("%s: %s", f, strings.Join(strings.Fields(string(b)), " ")))
		}
	}
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			s.Net = append(s.Net, "netns "+e.Name())
		}
	}
	sort.Strings(s.Net)
	for name, args := range map[string][]string{
		"ip link":   {"ip", "-d", "link", "show"},
		"ip addr":   {"ip", "addr", "show"},
		"ip route":  {"ip", "route", "show", "table", "all"},
		"ip -6 r":   {"ip", "-6", "route", "show", "table", "all"},
		"ip rule":   {"ip", "rule", "show"},
		"ip netns":  {"ip", "netns", "list"},
		"nft rules": {"nft", "list", "ruleset"},
		"iptables":  {"iptables-save"},
	} {
		if _, err := exec.LookPath(args[0]); err != nil {
			continue
		}
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			out = append(out, []byte(" error: "+err.Error())...)
		}
		s.Tools[name] = string(out)
	}
	s.Procs = foreignProcs()
	return s
}

// foreignProcs lists processes that vtest started (they carry VTEST_OWNER in
// their environment) and whose network namespace is not the host's. Other
// software on the machine may legitimately run in namespaces of its own.
func foreignProcs() map[int]string {
	host, _ := os.Readlink("/proc/self/ns/net") // tests run in the host namespace
	out := map[int]string{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		var pid int
		fmt.Sscanf(filepath.Base(d), "%d", &pid)
		ns, err := os.Readlink(d + "/ns/net")
		if err != nil || ns == host {
			continue
		}
		env, _ := os.ReadFile(d + "/environ")
		if !bytes.Contains(env, []byte("VTEST_OWNER=")) {
			continue
		}
		comm, _ := os.ReadFile(d + "/comm")
		out[pid] = strings.TrimSpace(string(comm)) + " " + ns
	}
	return out
}

// Diff describes how after differs from before, or "" if it does not. Link
// statistics and the order of lines are ignored; a process that only left
// is fine, a new one in a foreign namespace is a leak.
func Diff(before, after Snapshot) string {
	var b bytes.Buffer
	bset := map[string]bool{}
	for _, l := range before.Net {
		bset[l] = true
	}
	aset := map[string]bool{}
	for _, l := range after.Net {
		aset[l] = true
		if !bset[l] {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	for _, l := range before.Net {
		if !aset[l] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for k, v := range after.Tools {
		if before.Tools[k] != v {
			fmt.Fprintf(&b, "%s changed:\n--- before\n%s\n--- after\n%s\n", k, before.Tools[k], v)
		}
	}
	for pid, what := range after.Procs {
		if _, ok := before.Procs[pid]; !ok {
			fmt.Fprintf(&b, "process %d (%s) is alive in a foreign network namespace\n", pid, what)
		}
	}
	return b.String()
}

// Unchanged waits (kernel teardown is asynchronous) until the host is as it
// was in before, and fails the test if it does not get there in time.
func Unchanged(t testing.TB, before Snapshot) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d := Diff(before, Take(t))
		if d == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host changed or something was left behind:\n%s", d)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}

// RequireRoot skips the test unless the process may create namespaces.
func RequireRoot(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("integration test: needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_NET_RAW)")
	}
}

// GoTool returns the go command for tests that build things: from PATH, or
// the toolchain the test binary was built with (go test -exec sudo resets
// PATH), or where the Go installer puts it.
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	//lint:ignore SA1019 the toolchain that built this test is the right one.
	for _, p := range []string{filepath.Join(runtime.GOROOT(), "bin", "go"), "/usr/local/go/bin/go"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}
