// Package crashing holds scenarios whose checks kill the suite process, for
// the tests of vtest run's crash reports. Run one crash at a time with
// -parallel 1 and -run '^(good|<crash>|after)$'.
package crashing

import (
	"context"
	"log"
	"os"
	"syscall"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

func define(name string, crash scenario.CheckFunc) {
	s := scenario.Define(name, "two hosts")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b")
	s.Check("a reaches b", assert.Reach("a", "b"))
	if crash != nil {
		s.Check("crashes", crash)
	}
	scenario.Register(s)
}

func init() {
	define("good", nil)
	define("gopanic", func(ctx context.Context, n *scenario.Network) scenario.Result {
		go func() {
			var m map[string]int
			m["x"] = 1 // a panic in another goroutine: recover cannot catch it
		}()
		<-ctx.Done()
		return scenario.Verdict("", ctx.Err())
	})
	define("exit", func(ctx context.Context, n *scenario.Network) scenario.Result {
		os.Exit(3)
		return scenario.Result{}
	})
	define("fatal", func(ctx context.Context, n *scenario.Network) scenario.Result {
		log.Fatal("fatal: configuration is broken")
		return scenario.Result{}
	})
	define("sigkill", func(ctx context.Context, n *scenario.Network) scenario.Result {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		<-ctx.Done()
		return scenario.Result{}
	})
	define("after", nil)
}
