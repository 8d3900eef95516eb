// Package kmsg holds scenarios for the vtest kernel test of kernel
// warnings and suite crashes in the VM: two identical scenarios, one of
// which writes a fake WARNING splat to the kernel log, and one whose check
// crashes the suite. Run only in a VM (it writes to /dev/kmsg), with
// -parallel 1.
package kmsg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// FakeWarning is the splat the kmsg-warn scenario logs.
const FakeWarning = "<4>WARNING: CPU: 0 PID: 1 at net/core/dev.c:10999 vtest_fake_warning+0x2a/0x40 (written by a vtest test)"

func define(name string, log string, crash bool) {
	s := scenario.Define(name, "two hosts; the check writes a kernel log line")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b")
	s.Check("a reaches b", assert.Reach("a", "b"))
	s.Check("log", func(ctx context.Context, n *scenario.Network) scenario.Result {
		f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
		if err != nil {
			return scenario.Verdict("", err)
		}
		defer f.Close()
		_, err = f.WriteString(log + "\n")
		return scenario.Verdict("wrote "+log, err)
	})
	if crash {
		s.Check("crashes", func(ctx context.Context, n *scenario.Network) scenario.Result {
			go func() { panic("vtest test: a goroutine panics in the VM") }()
			<-ctx.Done()
			return scenario.Verdict("", ctx.Err())
		})
	}
	scenario.Register(s)
}

// neighbourTableFull fills the kernel's neighbour table (shared by every
// namespace of the kernel: safe only in a VM) with fresh entries on a's
// eth0, which the kernel may not evict for 5 s, then pings b, whose entry
// the kernel must refuse: the reach check is inconclusive, not failed. The
// entries are deleted afterwards.
func neighbourTableFull() {
	s := scenario.Define("kmsg-neighbours", "a reaches b while the kernel's neighbour table is full")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b")
	s.Check("a reaches b", func(ctx context.Context, n *scenario.Network) scenario.Result {
		a := n.Node("a")
		h := a.Netlink()
		var added []*netlink.Neigh
		defer func() {
			for _, nb := range added {
				h.NeighDel(nb)
			}
		}()
		for i := 0; ; i++ {
			if i == 1<<16 {
				return scenario.Verdict("", errors.New("the neighbour table took 65536 entries without filling"))
			}
			nb := &netlink.Neigh{LinkIndex: a.Interface("eth0").Index, State: netlink.NUD_REACHABLE,
				IP: net.IPv4(10, 99, byte(i>>8), byte(i)), HardwareAddr: net.HardwareAddr{2, 0, 0, 0, byte(i >> 8), byte(i)}}
			if err := h.NeighAdd(nb); err != nil {
				if !errors.Is(err, syscall.ENOBUFS) {
					return scenario.Verdict("", fmt.Errorf("neighbour %d: %w", i, err))
				}
				break
			}
			added = append(added, nb)
		}
		r, err := assert.Ping(ctx, a, n.Node("b").IPv4())
		ev := fmt.Sprintf("table full after %d entries", len(added))
		if r != nil {
			ev += "; " + r.Evidence()
		}
		return scenario.Verdict(ev, err)
	})
	scenario.Register(s)
}

// CmdlineThresh is the neighbour table size the test puts on the VM's
// kernel command line (--append), and CPUs its --smp.
const (
	CmdlineThresh = "4321"
	CPUs          = 2
)

func init() {
	s := scenario.Define("kmsg-cmdline", "the VM got vtest kernel's --append and --smp")
	s.Host("a")
	s.Check("kernel command line applied", func(ctx context.Context, n *scenario.Network) scenario.Result {
		b, err := os.ReadFile("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
		if err != nil {
			return scenario.Verdict("", err)
		}
		got := strings.TrimSpace(string(b))
		ev := fmt.Sprintf("gc_thresh3 = %s, %d CPUs", got, runtime.NumCPU())
		if got != CmdlineThresh || runtime.NumCPU() != CPUs {
			return scenario.Verdict(ev, fmt.Errorf("want gc_thresh3 = %s and %d CPUs", CmdlineThresh, CPUs))
		}
		return scenario.Verdict(ev, nil)
	})
	scenario.Register(s)
	define("kmsg-quiet", "<6>vtest: an ordinary kernel log line", false)
	define("kmsg-warn", FakeWarning, false)
	neighbourTableFull()
	define("kmsg-crash", "<6>vtest: about to crash", true)
}
