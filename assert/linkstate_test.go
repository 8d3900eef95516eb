package assert_test

import (
	"testing"

	"github.com/vtest-dev/vtest/assert"
)

// TestLinkStateFromOperstate: LinkIs judges from the operstate, the state
// the kernel has acted on, not from the carrier flag, which changes first:
// carrier gone but operstate still up is "up" (the kernel has not yet
// evicted neighbours or disabled the bridge port), and operstate down with
// the carrier back is still "no-carrier".
func TestLinkStateFromOperstate(t *testing.T) {
	for _, tt := range []struct {
		r    assert.LinkResult
		want string
	}{
		{assert.LinkResult{AdminUp: true, Carrier: true, Oper: "up"}, "up"},
		{assert.LinkResult{AdminUp: true, Carrier: false, Oper: "up"}, "up"},
		{assert.LinkResult{AdminUp: true, Carrier: false, Oper: "lowerlayerdown"}, "no-carrier"},
		{assert.LinkResult{AdminUp: true, Carrier: false, Oper: "down"}, "no-carrier"},
		{assert.LinkResult{AdminUp: true, Carrier: true, Oper: "down"}, "no-carrier"},
		{assert.LinkResult{AdminUp: true, Carrier: true, Oper: "unknown"}, "up"},
		{assert.LinkResult{AdminUp: true, Carrier: false, Oper: "unknown"}, "no-carrier"},
		{assert.LinkResult{AdminUp: true, Carrier: true, Oper: "dormant"}, "dormant"},
		{assert.LinkResult{AdminUp: false, Carrier: false, Oper: "down"}, "down"},
	} {
		if got := tt.r.State(); got != tt.want {
			t.Errorf("admin up %v, carrier %v, operstate %s: State() = %q, want %q", tt.r.AdminUp, tt.r.Carrier, tt.r.Oper, got, tt.want)
		}
	}
}
