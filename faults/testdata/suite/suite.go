// Package suite holds the scenarios the fault matrix runs: one per way a
// scenario can end, and a big one with a long build.
package suite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

func pair(name, desc string) *scenario.Spec {
	s := scenario.Define(name, desc)
	s.Router("r").Masquerade("wan")
	s.Host("a").Route("default", "r").Sysctl("net.ipv4.conf.all.rp_filter", "1")
	s.Host("b")
	s.Link("a", "r:lan")
	s.Link("r:wan", "b")
	return s
}

// daemon starts processes in a node that must die with the run, however
// it ends: a child of the suite, and a daemon in a session of its own
// whose parent is gone (neither a parent-death signal nor a process-group
// kill reaches it; after SIGKILL, only the process guard does).
func daemon(ctx context.Context, n *scenario.Network) scenario.Result {
	c := n.Node("a").Command("sleep", "1000")
	if err := c.Start(); err != nil {
		return scenario.Verdict("", err)
	}
	d := n.Node("a").Command("sh", "-c", "setsid sleep 1001 </dev/null >/dev/null 2>&1 &")
	return scenario.Verdict("daemons started", d.Run())
}

func init() {
	s := pair("pass", "everything passes")
	s.Check("daemon", daemon)
	s.Check("reach", assert.Reach("a", "b"))
	scenario.Register(s)

	s = pair("fail", "a check fails")
	s.Check("daemon", daemon)
	s.Check("isolated", assert.NoReach("a", "b"))
	scenario.Register(s)

	s = pair("panic", "a check panics")
	s.Check("daemon", daemon)
	s.Check("panics", func(context.Context, *scenario.Network) scenario.Result { panic("boom") })
	scenario.Register(s)

	s = pair("slow", "a check waits until cancelled (for timeouts and signals)")
	s.Check("daemon", daemon)
	s.Check("waits", func(ctx context.Context, n *scenario.Network) scenario.Result {
		<-ctx.Done()
		return scenario.Verdict("", errors.New("cancelled"))
	})
	scenario.Register(s)

	s = pair("hang", "a check ignores its context and sleeps for an hour, inside a node")
	s.Check("daemon", daemon)
	s.Check("hangs", func(ctx context.Context, n *scenario.Network) scenario.Result {
		return scenario.Verdict("", n.Node("a").Do(func() error {
			time.Sleep(time.Hour)
			return nil
		}))
	})
	scenario.Register(s)

	s = pair("report", "checks with a megabyte of evidence each: long report writes to interrupt")
	for i := range 4 {
		s.Check(fmt.Sprintf("evidence %d", i), func(context.Context, *scenario.Network) scenario.Result {
			return scenario.Result{Evidence: strings.Repeat("evidence line of a big report\n", 1<<15)}
		})
	}
	scenario.Register(s)

	big := scenario.Define("big", "a switch with 30 hosts: a long build to interrupt")
	big.Switch("sw")
	for i := range 30 {
		h := fmt.Sprintf("h%d", i)
		big.Host(h)
		big.Link(h, "sw")
	}
	big.Check("h0 reaches h29", assert.Reach("h0", "h29"))
	scenario.Register(big)
}
