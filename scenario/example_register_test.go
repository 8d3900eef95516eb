package scenario_test

import (
	"fmt"
	"strings"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// Scenario packages register their scenarios from init; vtest run and
// vtest list find them there. A name registered twice is not added: the
// runner reports it with both places and runs nothing.
func ExampleRegister() {
	s := scenario.Define("example-pair", "two hosts on one link")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b").Subnet("10.0.0.0/24")
	s.Check("a reaches b", assert.Reach("a", "b"))
	scenario.Register(s)
	scenario.Register(scenario.Define("example-pair", "the same name again"))

	err := scenario.RegistrationError()
	fmt.Println(strings.Contains(err.Error(), `scenario "example-pair" is registered twice: at `))
	// Output:
	// true
}
