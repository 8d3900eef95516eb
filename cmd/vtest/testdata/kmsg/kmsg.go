// Package kmsg holds scenarios for the vtest kernel test of kernel
// warnings and suite crashes in the VM: two identical scenarios, one of
// which writes a fake WARNING splat to the kernel log, and one whose check
// crashes the suite. Run only in a VM (it writes to /dev/kmsg), with
// -parallel 1.
package kmsg

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"

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
	define("kmsg-crash", "<6>vtest: about to crash", true)
}
