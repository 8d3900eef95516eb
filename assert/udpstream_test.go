package assert_test

import (
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestUDPStream: a 20 Mbit/s stream crosses an unlimited veth without
// loss, and a tbf of 5 Mbit/s on the path loses most of it: the loss
// bound fails, counted from the stream's own sequence numbers.
func TestUDPStream(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair())
	left, right := n.Node("left"), n.Node("right")
	short := assert.For(500 * time.Millisecond)
	r, err := assert.StreamUDP(ctx, left, right.IPv4(), 20, short, assert.Mbps(15, 25))
	mustPass(t, "20 Mbit/s over an unlimited veth", r, err)
	if r != nil {
		t.Log(r.Evidence())
		if r.Sent == 0 || r.Received != r.Sent {
			t.Errorf("healthy stream: sent %d, received %d", r.Sent, r.Received)
		}
	}
	r, err = assert.StreamUDP(ctx, left, right.IPv4(), 20, short, assert.Jitter(time.Nanosecond))
	mustFail(t, "an unmeetable jitter bound", r, err, "jitter", "want ≤ 0.000 ms")
	r, err = assert.StreamUDP(ctx, left, right.IPv4(), 20, short, assert.Mbps(0, 1))
	mustFail(t, "a rate upper bound", r, err, "want ≤ 1.0 Mbit/s")

	limit(t, left, "eth0", 5)
	r, err = assert.StreamUDP(ctx, left, right.IPv4(), 20, short, assert.Loss(0.05))
	mustFail(t, "20 Mbit/s into a 5 Mbit/s tbf", r, err, "lost", "want ≤ 5.00%")
	if r != nil {
		t.Log(r.Evidence())
		if r.Loss < 0.5 {
			t.Errorf("a 5 Mbit/s limit under 20 Mbit/s lost only %.0f%%", 100*r.Loss)
		}
	}
	// The scenario form, below the limit: it passes.
	res := assert.UDPStream("left", "right", 2, short, assert.Port(5002))(ctx, n)
	if res.Err != nil {
		t.Errorf("2 Mbit/s through a 5 Mbit/s limit: %v", res.Err)
	}
	if res := assert.UDPStream("left", "right", 20, short)(ctx, n); res.Err == nil || !strings.Contains(res.Err.Error(), "lost") {
		t.Errorf("scenario form, 20 Mbit/s through 5: %v %s", res.Err, res.Evidence)
	}
}

// TestUDPStreamValidates: a wrong rate or an option the stream does not
// read is refused before anything is built.
func TestUDPStreamValidates(t *testing.T) {
	for _, tc := range []struct {
		check scenario.CheckFunc
		want  string
	}{
		{assert.UDPStream("client", "server", 10, assert.Count(3)), "assert.UDPStream does not read option Count"},
		{assert.UDPStream("client", "server", 0), "assert.UDPStream: rate 0 Mbit/s is outside"},
		{assert.UDPStream("client", "server", 10, assert.Size(8)), "Size(8)"},
		{assert.UDPStream("client", "server", 10, assert.For(3*time.Second), assert.Timeout(time.Second)), "Timeout(1s) must exceed For(3s)"},
		{assert.UDPStream("client", "nowhere", 10), `"nowhere"`},
		{assert.Reach("client", "server", assert.Jitter(time.Millisecond)), "assert.Reach does not read option Jitter"},
	} {
		err := checked("c", tc.check).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
	if err := checked("c", assert.UDPStream("client", "server", 10, assert.Loss(0.01), assert.Jitter(time.Millisecond), assert.Mbps(8, 0))).Validate(); err != nil {
		t.Errorf("a good stream check refused: %v", err)
	}
}

// TestUDPStreamIPv6: the same over IPv6, healthy and through a tbf.
func TestUDPStreamIPv6(t *testing.T) {
	hostcheck.RequireRoot(t)
	s := pair()
	s.IPv6 = true
	n := scenario.New(t, s)
	short := assert.For(300 * time.Millisecond)
	r, err := assert.StreamUDP(ctx, n.Node("left"), n.Node("right").IPv6(), 10, short)
	mustPass(t, "IPv6, 10 Mbit/s over a veth", r, err)
	limit(t, n.Node("left"), "eth0", 2)
	r, err = assert.StreamUDP(ctx, n.Node("left"), n.Node("right").IPv6(), 10, short)
	mustFail(t, "IPv6, 10 Mbit/s into 2", r, err, "lost", "[fd")
}
