package assert_test

import (
	"fmt"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// A Match selects frames by fields — addresses, ports, tags (802.1Q and
// an 802.1ad outer tag), TTL, DSCP/ECN and the VNI of a VXLAN header (UDP
// port 4789, 8472 or DstPort); Func adds any test gopacket can decode.
// Frames counts frames arriving at the observed interface only (never
// those it sends).
func ExampleMatch_vni() {
	vni42 := assert.Match{Proto: "udp", VNI: 42}
	fmt.Println(vni42)
	// In a scenario: the underlay of site a carries VNI 42 to site b.
	_ = assert.Frames("a:eth0", assert.Frame{Dst: "10.50.2.1", Proto: "udp", DstPort: 4789}, "b:eth0", vni42)
	// A function of the frame tests anything else.
	inner := assert.Match{VNI: 42, Func: func(p gopacket.Packet) bool {
		v, ok := p.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN)
		return ok && v.ValidIDFlag
	}}
	fmt.Println(inner)
	// Output:
	// proto udp and vxlan vni 42
	// vxlan vni 42 and a function of the frame
}

// Check makes any scenario check a testing helper: a failure fails the test
// with the evidence, a pass logs the evidence at the caller's line.
func ExampleCheck() {
	var t *testing.T        // in a test function
	var n *scenario.Network // from scenario.New(t, spec)
	assert.Check(t, n, assert.Reach("client", "server"))
}
