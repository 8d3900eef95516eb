package assert

import (
	"fmt"
	"slices"
	"strings"
)

// expects says which Expect values each check that reads Expect knows,
// by the check's name: Validate refuses any other before anything is
// built, where the check would otherwise fail only when it runs.
var expects = map[string]func(string) error{
	"Firewall":       func(s string) error { return validVerdict(Verdict(s)) },
	"Frames":         oneOf("frame count", Exactly, AtLeastCount, NoFrames),
	"LinkIs":         oneOf("link state", "up", "down", "no-carrier"),
	"NeighbourEntry": neighbourState,
	"FDBEntry":       func(s string) error { _, err := fdbWantKind(s); return err },
}

// oneOf accepts exactly the values given.
func oneOf(what string, values ...string) func(string) error {
	return func(s string) error {
		if slices.Contains(values, s) {
			return nil
		}
		return fmt.Errorf("%s %q is not one of %s", what, s, strings.Join(values, ", "))
	}
}

// neighbourState accepts a neighbour state (NUD_*) by its name, in any
// case, as Neighbour matches it.
func neighbourState(s string) error {
	states := []string{"INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE", "FAILED", "NOARP", "PERMANENT"}
	if slices.Contains(states, strings.ToUpper(s)) {
		return nil
	}
	return fmt.Errorf("neighbour state %q is not one of %s", s, strings.ToLower(strings.Join(states, ", ")))
}

// expectProblem says what is wrong with the Expect value a check was
// given, or "" when it knows the value (or reads no Expect).
func expectProblem(name, expect string) string {
	f := expects[name]
	if f == nil || expect == "" {
		return ""
	}
	if err := f(expect); err != nil {
		return err.Error()
	}
	return ""
}
