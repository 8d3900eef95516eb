package scenario_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestImpairmentOptionsValidate: every impairment option is checked, with
// the same words for a link's impairment and for SetImpairment.
func TestImpairmentOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		im   scenario.Impairment
		want string
	}{
		{"correlation above 100", scenario.Impairment{Loss: 10, LossCorrelation: 120}, "loss correlation 120% is not a percentage"},
		{"correlation without its probability", scenario.Impairment{Delay: time.Millisecond, DuplicateCorrelation: 50}, "duplicate correlation without duplicate correlates nothing"},
		{"delay correlation without jitter", scenario.Impairment{Delay: time.Millisecond, DelayCorrelation: 50}, "delay correlation without jitter"},
		{"gap without reorder", scenario.Impairment{Delay: time.Millisecond, Gap: 5}, "gap without reorder reorders nothing"},
		{"buffer without rate", scenario.Impairment{Buffer: 4000}, "tbf options without a rate"},
		{"tbf options with netem", scenario.Impairment{Delay: time.Millisecond, Rate: 1e6, Buffer: 4000}, "tbf options (Buffer) with netem fields"},
		{"small buffer", scenario.Impairment{Rate: 1e6, Buffer: 1000}, "buffer 1000 bytes holds no full-size frame"},
		{"huge buffer", scenario.Impairment{Rate: 8000, Buffer: 1 << 20}, "takes over a minute"},
		{"peak rate not above rate", scenario.Impairment{Rate: 1e6, PeakRate: 1e6}, "peak rate 1000000 bit/s is not above the rate"},
		{"min burst without peak rate", scenario.Impairment{Rate: 1e6, MinBurst: 2000}, "min burst without a peak rate"},
		{"small queue", scenario.Impairment{Rate: 1e6, QueueBytes: 100}, "queue of 100 bytes holds no full-size frame"},
		{"RED without rate", scenario.Impairment{Loss: 1, RED: &scenario.RED{Max: 30000}}, "tbf options (RED) with netem fields"},
		{"RED without max", scenario.Impairment{Rate: 1e6, RED: &scenario.RED{ECN: true}}, "RED has no Max"},
		{"RED min above max", scenario.Impairment{Rate: 1e6, RED: &scenario.RED{Min: 9000, Max: 3000}}, "RED min 9000 bytes is not below max 3000 bytes"},
		{"RED limit below max", scenario.Impairment{Rate: 1e6, RED: &scenario.RED{Max: 30000, Limit: 20000}}, "RED limit 20000 bytes is below max"},
		{"RED probability", scenario.Impairment{Rate: 1e6, RED: &scenario.RED{Max: 30000, Probability: 2}}, "RED probability 2 is out of range"},
		{"RED burst", scenario.Impairment{Rate: 1e6, RED: &scenario.RED{Min: 25000, Max: 30000, Burst: 1}}, "RED burst 1 packets is too small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			link := pair("t")
			link.Links()[0].Impair(tc.im)
			step := pair("t")
			step.Step("impair", scenario.SetImpairment("left:eth0", tc.im))
			for what, s := range map[string]*scenario.Spec{"link": link, "step": step} {
				err := s.Validate()
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "fix:") {
					t.Errorf("%s: %v, want %q with a fix", what, err, tc.want)
				}
			}
		})
	}
	// What is valid stays valid.
	for _, im := range []scenario.Impairment{
		{Delay: 10 * time.Millisecond, Jitter: time.Millisecond, DelayCorrelation: 25, Loss: 1, LossCorrelation: 50, Duplicate: 1, DuplicateCorrelation: 50,
			Reorder: 25, ReorderCorrelation: 50, Gap: 5, Corrupt: 1, CorruptCorrelation: 10, Limit: 100},
		{Rate: 1e6, Buffer: 20000, PeakRate: 2e6, MinBurst: 2000, QueueBytes: 40000},
		{Rate: 1e6, RED: &scenario.RED{Max: 30000, ECN: true}},
	} {
		s := pair("t")
		s.Links()[0].Impair(im)
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", im, err)
		}
	}
}

// tbfOf returns the tbf qdisc on an interface of nd.
func tbfOf(t *testing.T, nd *scenario.Node, iface string) *netlink.Tbf {
	t.Helper()
	l, err := nd.Netlink().LinkByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := nd.Netlink().QdiscList(l)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if tb, ok := q.(*netlink.Tbf); ok {
			return tb
		}
	}
	t.Fatalf("no tbf on %s:%s: %v", nd.Name(), iface, qs)
	return nil
}

// burst sends n datagrams of size bytes from → to at once and returns how
// many arrived within window, and the time from the first arrival to the
// last.
func burst(t *testing.T, n *scenario.Network, from, to string, count, size int, window time.Duration) (int, time.Duration) {
	t.Helper()
	src, dst := n.Node(from), n.Node(to)
	assert.Reachable(t, src, dst) // the neighbours resolved first
	addr := netip.AddrPortFrom(dst.IPv4(), 5201)
	var rc, sc *net.UDPConn
	if err := dst.Do(func() (err error) { rc, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr)); return err }); err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := src.Do(func() (err error) { sc, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr)); return err }); err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	time.Sleep(100 * time.Millisecond) // the ping's tokens back in the bucket
	buf := make([]byte, size)
	for range count {
		if _, err := sc.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(window)
	got := 0
	var first, last time.Time
	for {
		_ = rc.SetReadDeadline(deadline)
		if _, err := rc.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			t.Fatal(err)
		}
		last = time.Now()
		if got == 0 {
			first = last
		}
		got++
	}
	return got, last.Sub(first)
}

// TestTBFBuffer: Buffer is the bucket tbf is given (read back through
// netlink), and a burst the bucket holds passes at once where the default
// bucket lets through only a few datagrams.
func TestTBFBuffer(t *testing.T) {
	hostcheck.RequireRoot(t)
	const rate = 100_000 // 12.5 kB/s: the default bucket is 3092 bytes
	for _, tc := range []struct {
		buffer   uint32
		min, max int
	}{{64000, 30, 30}, {0, 1, 12}} {
		s := pair("tbf-buffer")
		s.Links()[0].ImpairFrom("left", scenario.Impairment{Rate: rate, Buffer: tc.buffer})
		n := scenario.New(t, s)
		if tc.buffer > 0 {
			tb := tbfOf(t, n.Node("left"), "eth0")
			if got := netlink.Xmitsize(tb.Rate, tb.Buffer); got < tc.buffer*99/100 || got > tc.buffer*101/100 {
				t.Errorf("tbf bucket %d bytes read back, want %d", got, tc.buffer)
			}
		}
		got, _ := burst(t, n, "left", "right", 30, 1000, 300*time.Millisecond)
		if got < tc.min || got > tc.max {
			t.Errorf("buffer %d: %d of 30 datagrams of a burst arrived within 300 ms, want %d..%d", tc.buffer, got, tc.min, tc.max)
		}
		t.Logf("buffer %d: %d of 30 datagrams arrived within 300 ms", tc.buffer, got)
	}
}

// TestTBFPeakRate: PeakRate is read back through netlink, and it spreads
// a burst the bucket would let through at once over the time the peak
// rate takes.
func TestTBFPeakRate(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, tc := range []struct {
		peak     uint64
		min, max time.Duration
	}{{1_000_000, 150 * time.Millisecond, time.Second}, {0, 0, 60 * time.Millisecond}} {
		s := pair("tbf-peak")
		s.Links()[0].ImpairFrom("left", scenario.Impairment{Rate: 100_000, Buffer: 64000, PeakRate: tc.peak})
		n := scenario.New(t, s)
		if tb := tbfOf(t, n.Node("left"), "eth0"); tb.Peakrate != tc.peak/8 {
			t.Errorf("tbf peak rate %d bytes/s read back, want %d", tb.Peakrate, tc.peak/8)
		}
		// 30 datagrams of 1042 bytes on the wire: 250 ms at 1 Mbit/s.
		got, span := burst(t, n, "left", "right", 30, 1000, time.Second)
		if got != 30 || span < tc.min || span > tc.max {
			t.Errorf("peak rate %d: %d of 30 datagrams arrived over %v, want all over %v..%v", tc.peak, got, span, tc.min, tc.max)
		}
		t.Logf("peak rate %d: %d datagrams over %v", tc.peak, got, span)
	}
}

// TestSetImpairmentOptions: the step installs the tbf options and RED
// where the kernel has them, and replacing an impairment with RED by one
// without leaves no RED behind.
func TestSetImpairmentOptions(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair("impair-step"))
	ctx := context.Background()
	if err := n.Apply(ctx, scenario.SetImpairment("left:eth0", scenario.Impairment{Rate: 1e6, Buffer: 20000, PeakRate: 2e6})); err != nil {
		t.Fatal(err)
	}
	if tb := tbfOf(t, n.Node("left"), "eth0"); tb.Peakrate != 250000 || tb.Rate != 125000 {
		t.Errorf("tbf after SetImpairment: rate %d peak %d bytes/s", tb.Rate, tb.Peakrate)
	}
	if err := scenario.FeatureRED.Probe(); err != nil {
		t.Skipf("the rest needs RED: %v", err)
	}
	if err := n.Apply(ctx, scenario.SetImpairment("left:eth0", scenario.Impairment{Rate: 1e6, RED: &scenario.RED{Max: 30000, ECN: true}})); err != nil {
		t.Fatal(err)
	}
	if qs := qdiscKinds(t, n.Node("left")); qs != "tbf red" {
		t.Errorf("qdiscs with RED: %q", qs)
	}
	if err := n.Apply(ctx, scenario.SetImpairment("left:eth0", scenario.Impairment{Rate: 1e6})); err != nil {
		t.Fatal(err)
	}
	if qs := qdiscKinds(t, n.Node("left")); qs != "tbf" {
		t.Errorf("qdiscs after RED was replaced: %q", qs)
	}
}

func qdiscKinds(t *testing.T, nd *scenario.Node) string {
	l, err := nd.Netlink().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	qs, err := nd.Netlink().QdiscList(l)
	if err != nil {
		t.Fatal(err)
	}
	var k []string
	for _, q := range qs {
		k = append(k, q.Type())
	}
	return strings.Join(k, " ")
}
