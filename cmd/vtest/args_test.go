package main

import (
	"flag"
	"slices"
	"testing"

	"github.com/vtest-dev/vtest/runner"
)

// TestSplitArgsKnowsEveryRunFlag: the CLI takes the run flags from runner's
// one definition, so a flag added there with a value never swallows a
// package path, and a boolean one never swallows the next argument.
func TestSplitArgsKnowsEveryRunFlag(t *testing.T) {
	n := 0
	runner.Flags().VisitAll(func(f *flag.Flag) {
		n++
		b, isBool := f.Value.(interface{ IsBoolFlag() bool })
		args := []string{"-" + f.Name, "value", "./pkg"}
		flags, paths := splitArgs(args)
		if isBool && b.IsBoolFlag() {
			if !slices.Equal(flags, args[:1]) || !slices.Equal(paths, args[1:]) {
				t.Errorf("bool flag -%s: flags %v paths %v", f.Name, flags, paths)
			}
			return
		}
		if !slices.Equal(flags, args[:2]) || !slices.Equal(paths, args[2:]) {
			t.Errorf("value flag -%s: flags %v paths %v", f.Name, flags, paths)
		}
	})
	if n < 15 {
		t.Errorf("only %d run flags", n)
	}
}
