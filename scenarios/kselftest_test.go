package scenarios

import (
	"context"
	"testing"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestVXLANBridge1DNeedsTheFloodEntry: the check after the VXLAN FDB
// append step passes with the step and fails on the twin without it.
func TestVXLANBridge1DNeedsTheFloodEntry(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, flood := range []bool{true, false} {
		s := vxlanBridge1D(flood)
		n := scenario.New(t, s)
		var res scenario.Result
		for _, it := range s.Items() {
			res = it.Func(context.Background(), n)
			if it.Name == "h1 reaches h3 through VXLAN" {
				break
			}
			if it.Kind == scenario.ItemStep && res.Err != nil {
				t.Fatalf("flood=%v: step %q: %v", flood, it.Name, res.Err)
			}
		}
		t.Logf("flood=%v: h1 reaches h3: %v %s", flood, res.Err, res.Evidence)
		if flood && res.Err != nil {
			t.Errorf("with the flood entry: h1 does not reach h3: %v", res.Err)
		}
		if !flood && res.Err == nil {
			t.Errorf("without the flood entry: h1 reaches h3: %s", res.Evidence)
		}
		n.Close()
	}
}
