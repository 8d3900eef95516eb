package assert_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

func TestEventually(t *testing.T) {
	hostcheck.RequireRoot(t)
	reach := assert.Reach("left", "right", assert.Timeout(20*time.Millisecond))
	t.Run("gives up at its bound", func(t *testing.T) {
		n := scenario.New(t, pair())
		linkDown(t, n.Node("right"), "eth0")
		start := time.Now()
		r := assert.Eventually(reach, 150*time.Millisecond, 10*time.Millisecond)(ctx, n)
		took := time.Since(start)
		if r.Err == nil {
			t.Fatalf("passed on a link that stays down: %s", r.Evidence)
		}
		if !strings.Contains(r.Evidence, "still failing after") || !strings.Contains(r.Evidence, "bound 150ms") || !strings.Contains(r.Evidence, "0 received") {
			t.Errorf("evidence: %s", r.Evidence)
		}
		if took > time.Second {
			t.Errorf("a 150ms bound took %v", took)
		}
	})
	t.Run("reports the convergence time", func(t *testing.T) {
		n := scenario.New(t, pair())
		linkDown(t, n.Node("right"), "eth0")
		// The fault is repaired 100 ms into the check.
		time.AfterFunc(100*time.Millisecond, func() { _ = n.Apply(context.Background(), scenario.LinkUp("right:eth0")) })
		r, err := assert.Converge(ctx, 2*time.Second, 10*time.Millisecond, func(ctx context.Context) (assert.Evidencer, error) {
			return assert.Ping(ctx, n.Node("left"), n.Node("right").IPv4(), assert.Timeout(20*time.Millisecond))
		})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Passed || r.After < 90*time.Millisecond || r.Attempts < 2 || !strings.Contains(r.Evidence(), "passed after") {
			t.Errorf("%+v: %s", r, r.Evidence())
		}
	})
	t.Run("testing helper and bad arguments", func(t *testing.T) {
		n := scenario.New(t, pair())
		linkDown(t, n.Node("right"), "eth0")
		ft := &fakeT{TB: t}
		probe := func(ctx context.Context) (assert.Evidencer, error) {
			return assert.Ping(ctx, n.Node("left"), n.Node("right").IPv4(), assert.Timeout(20*time.Millisecond))
		}
		if assert.Converges(ft, 50*time.Millisecond, 0, probe) || !ft.failed {
			t.Error("Converges did not fail the test")
		}
		if _, err := assert.Converge(ctx, 0, 0, probe); err == nil {
			t.Error("a zero bound was accepted")
		}
	})
}

func TestConsistently(t *testing.T) {
	hostcheck.RequireRoot(t)
	reach := assert.Reach("left", "right", assert.Timeout(50*time.Millisecond))
	t.Run("holds on a stable network", func(t *testing.T) {
		n := scenario.New(t, pair())
		r := assert.Consistently(reach, 100*time.Millisecond, 20*time.Millisecond)(ctx, n)
		if r.Err != nil || !strings.Contains(r.Evidence, "held for 100ms") {
			t.Fatalf("%v: %s", r.Err, r.Evidence)
		}
	})
	t.Run("fails when the link breaks in the window", func(t *testing.T) {
		n := scenario.New(t, pair())
		time.AfterFunc(50*time.Millisecond, func() { _ = n.Apply(context.Background(), scenario.LinkDown("right:eth0")) })
		r := assert.Consistently(reach, 2*time.Second, 10*time.Millisecond)(ctx, n)
		if r.Err == nil {
			t.Fatalf("held although the link went down: %s", r.Evidence)
		}
		if !strings.Contains(r.Evidence, "broke after") {
			t.Errorf("evidence: %s", r.Evidence)
		}
	})
}
