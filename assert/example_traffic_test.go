package assert_test

import (
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// A UDP stream at 20 Mbit/s for half a second (Mininet's
// iperf(l4Type='UDP')): at most 1% lost, jitter within 1 ms, at least
// 18 Mbit/s received.
func ExampleUDPStream() {
	s := scenario.Define("udp", "")
	s.Host("left")
	s.Host("right")
	s.Link("left", "right").Subnet("10.0.0.0/24")
	s.Check("20 Mbit/s of UDP", assert.UDPStream("left", "right", 20,
		assert.For(500*time.Millisecond), assert.Loss(0.01), assert.Jitter(time.Millisecond), assert.Mbps(18, 0)))
}

// A connectivity matrix: h1, h2 and h3 all reach each other (Mininet's
// pingall); with a second set, h4 and h5 reach each other and none of
// the first set.
func ExampleMatrix() {
	_ = assert.AllReach([]string{"h1", "h2", "h3"})
	_ = assert.Matrix([][]string{{"h1", "h2", "h3"}, {"h4", "h5"}}, assert.Timeout(2*time.Second))
}
