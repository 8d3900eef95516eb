// Package misconfigured registers the misconfigured link-kind scenarios,
// for make kernel-check to show their checks fail in the VM.
package misconfigured

import (
	"github.com/vtest-dev/vtest/internal/misconfigured"
	"github.com/vtest-dev/vtest/scenario"
)

func init() {
	for _, c := range misconfigured.Cases() {
		scenario.Register(c.Spec)
	}
}
