// Package duplicate registers two scenarios of the same name, a mistake
// vtest must report with both places instead of a panic.
package duplicate

import (
	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

func init() {
	scenario.Register(scenario.Define("twice", "the first").Check("nothing", assert.Reach("a", "b")))
	scenario.Register(scenario.Define("twice", "the second").Check("nothing", assert.Reach("a", "b")))
}
