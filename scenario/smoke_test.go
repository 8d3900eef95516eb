package scenario_test

import (
	"testing"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

func TestSmoke(t *testing.T) {
	s := scenario.Define("smoke", "")
	s.Host("left")
	s.Host("right")
	s.Link("left", "right")
	n := scenario.New(t, s)
	assert.Reachable(t, n.Node("left"), n.Node("right"))
	assert.Reachable(t, n.Node("right"), n.Node("left"))
	t.Log(n.DumpState())
}
