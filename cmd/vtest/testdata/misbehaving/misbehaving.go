// Package misbehaving holds scenarios whose checks misbehave the ways user
// code does (hang, spin, crash the process), next to well-behaved ones, for
// vtest's tests of a runner that survives user code.
package misbehaving

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

func pair(name, desc string) *scenario.Spec {
	s := scenario.Define(name, desc)
	s.Host("a")
	s.Host("b")
	s.Link("a", "b")
	return s
}

func init() {
	for _, name := range []string{"good-1", "good-2"} {
		s := pair(name, "well behaved")
		s.Check("a reaches b", assert.Reach("a", "b"))
		scenario.Register(s)
	}

	s := pair("hangs", "a check that ignores its context and sleeps for an hour")
	s.Check("sleeps", func(ctx context.Context, n *scenario.Network) scenario.Result {
		if mark := os.Getenv("MISBEHAVING_MARK"); mark != "" {
			os.WriteFile(mark, nil, 0o644) // tells a test the check is running
		}
		time.Sleep(time.Hour)
		return scenario.Result{}
	})
	s.Check("never runs", assert.Reach("a", "b"))
	scenario.Register(s)

	s = pair("hangs-in-node", "a check whose code inside a node hangs")
	s.Check("sleeps in a", func(ctx context.Context, n *scenario.Network) scenario.Result {
		return scenario.Verdict("", n.Node("a").Do(func() error {
			time.Sleep(time.Hour)
			return nil
		}))
	})
	scenario.Register(s)

	s = pair("spins", "a check that spins the CPU and never returns")
	s.Check("spins", func(ctx context.Context, n *scenario.Network) scenario.Result {
		x := 0
		for {
			x++
		}
	})
	scenario.Register(s)

	s = pair("goroutine-panics", "a check whose goroutine writes to a nil map")
	s.Check("panics", func(ctx context.Context, n *scenario.Network) scenario.Result {
		go func() {
			var m map[string]int
			m["boom"] = 1
		}()
		<-ctx.Done()
		return scenario.Result{}
	})
	scenario.Register(s)

	s = pair("exits", "a check that calls os.Exit(3)")
	s.Check("exits", func(ctx context.Context, n *scenario.Network) scenario.Result {
		os.Exit(3)
		return scenario.Result{}
	})
	scenario.Register(s)

	s = pair("log-fatal", "a check that calls log.Fatal")
	s.Check("fatal", func(ctx context.Context, n *scenario.Network) scenario.Result {
		log.Fatal("the user's code gave up")
		return scenario.Result{}
	})
	scenario.Register(s)
}
