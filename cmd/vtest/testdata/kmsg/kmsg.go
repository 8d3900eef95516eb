// Package kmsg holds scenarios for the vtest kernel test of kernel
// warnings and suite crashes in the VM: two identical scenarios, one of
// which writes a fake WARNING splat to the kernel log, and one whose check
// crashes the suite. Run only in a VM (it writes to /dev/kmsg), with
// -parallel 1.
package kmsg

import (
	"context"
	"os"

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

func init() {
	define("kmsg-quiet", "<6>vtest: an ordinary kernel log line", false)
	define("kmsg-warn", FakeWarning, false)
	define("kmsg-crash", "<6>vtest: about to crash", true)
}
