package assert_test

import (
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// TestBadExpectationsAreValidateErrors: a verdict, reason, frame count,
// link state, neighbour state or FDB kind that the check does not know is
// refused by Validate, before anything is built, where it used to fail
// only when the check ran (or, for a neighbour state, never match).
func TestBadExpectationsAreValidateErrors(t *testing.T) {
	for _, tc := range []struct {
		check scenario.CheckFunc
		want  string
	}{
		{assert.Firewall("client", "server", 80, assert.Expect("open")), `assert.Firewall: Expect: verdict "open" is not one of allowed, refused, rejected, filtered, no route`},
		{assert.ConnectOutcome("client", "server", 80, "connected"), `assert.ConnectOutcome: verdict "connected" is not one of`},
		{assert.NoReach("client", "server", assert.Because(assert.Allowed)), `assert.NoReach: because "allowed": want assert.NoRoute, Rejected or Filtered`},
		{assert.Frames("h1:eth0", assert.Frame{Dst: "10.0.3.2"}, "h2:eth0", assert.Match{}, assert.Expect("some")), `assert.Frames: Expect: frame count "some" is not one of exactly, at-least, none`},
		{assert.LinkIs("client:eth0", assert.Expect("sideways")), `assert.LinkIs: Expect: link state "sideways" is not one of up, down, no-carrier`},
		{assert.NeighbourEntry("client", "r1", assert.Expect("reach")), `assert.NeighbourEntry: Expect: neighbour state "reach" is not one of`},
		{assert.FDBEntry("sw", "h1:eth0", assert.Expect("sticky")), `assert.FDBEntry: Expect: fdb: kind "sticky"`},
	} {
		err := checked("c", tc.check).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v\nwant it to contain %s", err, tc.want)
		}
	}
	for _, c := range []scenario.CheckFunc{
		assert.Firewall("client", "server", 80, assert.Expect(assert.Rejected)),
		assert.ConnectOutcome("client", "server", 80, assert.NoRoute),
		assert.NoReach("client", "server", assert.Because(assert.Filtered)),
		assert.LinkIs("client:eth0", assert.Expect("no-carrier")),
		assert.NeighbourEntry("client", "r1", assert.Expect("Stale")),
	} {
		if err := checked("c", c).Validate(); err != nil {
			t.Errorf("a valid expectation refused: %v", err)
		}
	}
}
