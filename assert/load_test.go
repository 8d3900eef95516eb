package assert_test

import (
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// hogs saturates every core with busy processes until the test ends.
func hogs(t *testing.T) {
	t.Helper()
	for range 2 * runtime.NumCPU() {
		c := exec.Command("/bin/sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	}
}

// TestLatencyUnderLoad: with CPU hogs on every core, a latency bound on a
// healthy veth is passed or reported inconclusive (the loopback baseline
// shows the machine is the slow part), never failed; a real delay (tbf
// queueing) still fails the same bound under the same load.
func TestLatencyUnderLoad(t *testing.T) {
	hostcheck.RequireRoot(t)
	if testing.Short() {
		t.Skip("loads every core")
	}
	healthy := scenario.New(t, pair())
	slow := scenario.New(t, pair())
	if err := scenario.FeatureTBF.Probe(); err != nil {
		t.Skip(err)
	}
	rateLimit(t, slow.Node("right"), "eth0", 20000)
	hogs(t)
	bound := []assert.Bound{assert.Below(assert.P90, 5*time.Millisecond)}
	var passed, inconclusive int
	for range 5 {
		r, err := assert.Latency(ctx, healthy.Node("left"), healthy.Node("right").IPv4(), bound)
		switch {
		case err == nil:
			passed++
		case scenario.IsInconclusive(err):
			inconclusive++
			t.Logf("inconclusive: %v", err)
		default:
			t.Errorf("a healthy link failed under load: %v", err)
		}
		if r != nil && r.Baseline.N == 0 {
			t.Errorf("no baseline in the evidence: %s", r.Evidence())
		}
	}
	t.Logf("under load: %d passed, %d inconclusive", passed, inconclusive)
	for range 2 {
		r, err := assert.Latency(ctx, slow.Node("left"), slow.Node("right").IPv4(), bound, assert.Size(1000), assert.Count(10))
		if err == nil || scenario.IsInconclusive(err) {
			t.Errorf("a 20 kB/s link was not failed under load: %v %v", err, r)
		} else {
			mustContain(t, "tbf under load", err, r, "network ≈ p90")
		}
	}
}
