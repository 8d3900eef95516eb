package assert_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestFailingTrafficChecksEndWithTheWalk: every traffic check that fails
// because of the network ends its evidence with the path walk naming the
// break (r1 stops forwarding), and NoReach's unexpected success with the
// walk of the path the traffic took. PortForwarded also says what DNAT
// did, Frames the receiver's drop counters and rp_filter; a connection
// the target itself refused on an intact path says that nothing listens.
func TestFailingTrafficChecksEndWithTheWalk(t *testing.T) {
	hostcheck.RequireRoot(t)
	const brokenBreak = "first break: forward path: r1: net.ipv4.ip_forward=0"
	short := assert.Timeout(300 * time.Millisecond)
	for _, c := range []struct {
		name    string
		check   scenario.CheckFunc
		healthy bool // fails on the working network
		want    []string
	}{
		{"NoReach (reached)", assert.NoReach("client", "server", short), true,
			[]string{"path walk client → 10.0.3.2:", "no break found"}},
		{"Firewall", assert.Firewall("client", "server", 80, assert.Listen(), short), false, []string{brokenBreak}},
		{"Connects", assert.Connects("client", "server", 80, short), false, []string{brokenBreak}},
		{"Connects, nothing listens", assert.Connects("client", "server", 81, short), true,
			[]string{"no break found", "10.0.3.2 itself refused: nothing listens on that port there"}},
		{"Echoes", assert.Echoes("client", "server", 7, short), false, []string{brokenBreak}},
		{"ConnectOutcome", assert.ConnectOutcome("client", "server", 80, assert.Allowed, short), false, []string{brokenBreak}},
		{"SeenAs", assert.SeenAs("client", "server", "10.0.1.1", short), false, []string{brokenBreak}},
		{"PortForwarded", assert.PortForwarded("client", "10.0.1.2", 8080, "server", 80, short), false,
			[]string{"no DNAT at r1: conntrack has no TCP entry for 10.0.1.2:8080", "path walk client → 10.0.1.2:"}},
		{"Rate", assert.Rate("client", "server", assert.Mbps(1, 0), assert.For(200*time.Millisecond), assert.Timeout(time.Second)), false, []string{brokenBreak}},
		{"UDPStream", assert.UDPStream("client", "server", 1, assert.For(200*time.Millisecond), assert.Timeout(time.Second)), false, []string{brokenBreak}},
		{"Spread", assert.Spread("client", "server", "r2", []string{"eth1"}, assert.Count(4), assert.Timeout(500*time.Millisecond)), false, []string{brokenBreak}},
		{"Frames", assert.Frames("client:eth0", assert.Frame{DstMAC: "r1:eth0", Dst: "10.0.3.2", Proto: "udp", DstPort: 9},
			"server:eth0", assert.Match{Proto: "udp", DstPort: 9}), false,
			[]string{"receiver server:eth0: rx packets ", "rp_filter 0 (all 0)", brokenBreak}},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := scenario.New(t, chain())
			if !c.healthy {
				setSysctl(t, n.Node("r1"), "net.ipv4.ip_forward", "0")
			}
			res := c.check(ctx, n)
			if res.Err == nil {
				t.Fatalf("passed: %s", res.Evidence)
			}
			for _, w := range c.want {
				if !strings.Contains(res.Evidence, w) {
					t.Errorf("evidence lacks %q:\n%s", w, res.Evidence)
				}
			}
			if strings.Count(res.Evidence, "path walk client") > 1 {
				t.Errorf("the walk twice:\n%s", res.Evidence)
			}
		})
	}
	t.Run("a passing check carries no walk", func(t *testing.T) {
		n := scenario.New(t, chain())
		res := assert.Firewall("client", "server", 80, assert.Expect(assert.Refused), short)(ctx, n)
		if res.Err != nil || strings.Contains(res.Evidence, "path walk") {
			t.Errorf("walk in the evidence of %v:\n%s", res.Err, res.Evidence)
		}
	})
}

// TestFailureTimingIsTheFinishedOne: a failure message quotes the timing
// of the finished check, the same as its evidence: a filtered connection
// takes its whole timeout, and the message used to say "took 0.000ms".
func TestFailureTimingIsTheFinishedOne(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, chain())
	setSysctl(t, n.Node("r1"), "net.ipv4.ip_forward", "0")
	took := regexp.MustCompile(`took ([0-9.]+)ms`)
	for _, c := range []struct {
		name  string
		check scenario.CheckFunc
	}{
		{"Firewall", assert.Firewall("client", "server", 80, assert.Listen(), assert.Timeout(300*time.Millisecond))},
		{"NoReach", assert.NoReach("client", "r1", assert.Timeout(300*time.Millisecond))},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := c.check(ctx, n)
			if c.name == "NoReach" {
				// r1 answers for itself: NoReach fails at once.
				if res.Err == nil {
					t.Fatal("passed")
				}
			} else if res.Err == nil {
				t.Fatal("passed with forwarding off")
			}
			msg := took.FindStringSubmatch(res.Err.Error())
			ev := took.FindStringSubmatch(res.Evidence)
			if msg == nil || ev == nil || msg[1] != ev[1] {
				t.Fatalf("the message says %v, the evidence %v:\n%v\n%s", msg, ev, res.Err, res.Evidence)
			}
			if msg[1] == "0.000" {
				t.Errorf("took 0.000ms: %v", res.Err)
			}
			if ms, _ := strconv.ParseFloat(msg[1], 64); c.name == "Firewall" && ms < 300 {
				t.Errorf("a filtered attempt with a 300 ms timeout took %sms", msg[1])
			}
		})
	}
}
