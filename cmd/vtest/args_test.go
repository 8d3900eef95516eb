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

// TestTakeExec: -exec is taken out of the suite's flags in both its forms,
// every other argument (flag or not) is kept in order.
func TestTakeExec(t *testing.T) {
	for _, tc := range []struct {
		args, rest, command []string
	}{
		{[]string{"-run", "x", "./pkg"}, []string{"-run", "x", "./pkg"}, nil},
		{[]string{"-exec", "sudo -E", "-v"}, []string{"-v"}, []string{"sudo", "-E"}},
		{[]string{"--exec=doas", "exec"}, []string{"exec"}, []string{"doas"}},
		{[]string{"-exec=", "-v"}, []string{"-v"}, []string{}},
	} {
		rest, command, err := takeExec(tc.args)
		if err != nil || !slices.Equal(rest, tc.rest) || !slices.Equal(command, tc.command) || (command == nil) != (tc.command == nil) {
			t.Errorf("takeExec(%q) = %q, %q, %v; want %q, %q", tc.args, rest, command, err, tc.rest, tc.command)
		}
	}
	if _, _, err := takeExec([]string{"-v", "-exec"}); err == nil {
		t.Error("takeExec accepted -exec without a command")
	}
}

// TestEnvFlagsKeepsGivenFlags: a setting from the environment becomes a
// flag unless the flag was given, in either form.
func TestEnvFlagsKeepsGivenFlags(t *testing.T) {
	t.Setenv("VTEST_INCONCLUSIVE", "fail")
	t.Setenv("NO_COLOR", "1")
	got := envFlags([]string{"-v"})
	if !slices.Contains(got, "-inconclusive") || !slices.Contains(got, "-color") {
		t.Errorf("envFlags(-v) = %q, want -inconclusive and -color added", got)
	}
	given := []string{"--inconclusive=skip", "-color", "always"}
	got = envFlags(given)
	if slices.Contains(got, "-inconclusive") || slices.Contains(got, "never") {
		t.Errorf("envFlags(%q) = %q, want the given flags kept", given, got)
	}
}
