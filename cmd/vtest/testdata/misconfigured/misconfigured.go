// Package misconfigured registers the misconfigured link-kind scenarios,
// for make kernel-check to show their checks fail in the VM, and the path
// walk's fault catalogue (walk-* scenarios), whose one check passes when
// the walk names each fault's break.
package misconfigured

import (
	"github.com/vtest-dev/vtest/internal/catalogue"
	"github.com/vtest-dev/vtest/internal/misconfigured"
	"github.com/vtest-dev/vtest/scenario"
)

func init() {
	for _, c := range misconfigured.Cases() {
		scenario.Register(c.Spec)
	}
	for _, c := range catalogue.Cases() {
		scenario.Register(c.Spec)
	}
}
