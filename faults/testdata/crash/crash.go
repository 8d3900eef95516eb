// Package crash holds scenarios whose checks kill the suite process (a
// panic in a goroutine, os.Exit, log.Fatal), each after starting a daemon
// that must die with the run, for the fault matrix's crash cases.
package crash

import (
	"context"
	"log"
	"os"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

func define(name string, crash scenario.CheckFunc) {
	s := scenario.Define(name, "a router between two hosts; a daemon; then the crash")
	s.Router("r").Masquerade("wan")
	s.Host("a").Route("default", "r")
	s.Host("b")
	s.Link("a", "r:lan")
	s.Link("r:wan", "b")
	s.Check("daemon", func(ctx context.Context, n *scenario.Network) scenario.Result {
		return scenario.Verdict("daemon started", n.Node("a").Command("sleep", "1000").Start())
	})
	s.Check("reach", assert.Reach("a", "b"))
	if crash != nil {
		s.Check("crashes", crash)
	}
	scenario.Register(s)
}

func init() {
	define("ok", nil)
	define("gopanic", func(ctx context.Context, n *scenario.Network) scenario.Result {
		go func() {
			var m map[string]int
			m["x"] = 1
		}()
		<-ctx.Done()
		return scenario.Result{}
	})
	define("exit", func(ctx context.Context, n *scenario.Network) scenario.Result {
		os.Exit(3)
		return scenario.Result{}
	})
	define("fatal", func(ctx context.Context, n *scenario.Network) scenario.Result {
		log.Fatal("the user's code gave up")
		return scenario.Result{}
	})
}
