package runner

import (
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/scenario"
)

// TestListSaysNeighboursPreinstalled: `vtest list` tells a scenario with
// pre-installed neighbours, where ARP is not exercised, from one without.
func TestListSaysNeighboursPreinstalled(t *testing.T) {
	pair := func(name string) *scenario.Spec {
		s := scenario.Define(name, "two hosts")
		s.Host("a")
		s.Host("b")
		s.Link("a", "b")
		return s
	}
	var b strings.Builder
	list(&b, []*scenario.Spec{pair("plain"), pair("static").PreinstallNeighbours()})
	plain, static, _ := strings.Cut(b.String(), "static\n")
	const want = "neighbours: pre-installed, permanent (ARP/NDP not exercised)"
	if strings.Contains(plain, "neighbours:") {
		t.Errorf("list says neighbours for a scenario without them:\n%s", plain)
	}
	if !strings.Contains(static, want) {
		t.Errorf("list does not say %q:\n%s", want, static)
	}
}
