// Package twins registers both networks of every check twin (healthy and
// broken), for make kernel-check to show each check's pass and fail in the
// VMs.
package twins

import (
	"github.com/vtest-dev/vtest/internal/twins"
	"github.com/vtest-dev/vtest/scenario"
)

func init() {
	for _, tw := range twins.Twins() {
		scenario.Register(tw.Healthy)
		scenario.Register(tw.Broken)
	}
}
