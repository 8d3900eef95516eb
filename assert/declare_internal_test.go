package assert

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// TestOptionFieldsComplete: every field of Options is named in
// optionFields, so a new option is policed (add it there, and to the
// reads sets of the checks that read it).
func TestOptionFieldsComplete(t *testing.T) {
	known := map[string]bool{}
	for _, f := range optionFields {
		known[f.field] = true
	}
	ty := reflect.TypeFor[Options]()
	for i := range ty.NumField() {
		if name := ty.Field(i).Name; !known[name] {
			t.Errorf("Options.%s is not in optionFields", name)
		}
	}
}

// TestGiven: each option is found by the field it sets, zero values
// included.
func TestGiven(t *testing.T) {
	for _, tc := range []struct {
		opt  Option
		want reads
	}{
		{Count(0), readsCount}, {Count(3), readsCount}, {Interval(0), readsInterval},
		{Timeout(time.Second), readsTimeout}, {Loss(0), readsLoss}, {Source(netip.MustParseAddr("10.0.0.1")), readsSource},
		{Via(""), readsVia}, {Via("eth0"), readsVia}, {IPv6(), readsIPv6}, {Port(0), readsPort},
		{Warmup(1), readsWarmup}, {Size(0), readsSize}, {Absent(), readsAbsent}, {Expect(""), readsExpect},
		{MAC("a:b"), readsMAC}, {Gateway("10.0.0.1"), readsGateway}, {PathMTU(0), readsPathMTU},
		{UDP(), readsUDP}, {Listen(), readsListen}, {Mbps(0, 0), readsMbps}, {Mbps(1, 0), readsMbps}, {For(0), readsFor},
		{MTULocked(), readsMTULocked}, {PMTUException(), readsPMTUException},
		{func(o *Options) { o.Count, o.Port = 1, 2 }, readsCount | readsPort},
		{func(*Options) {}, 0},
	} {
		if got := given([]Option{tc.opt}); got != tc.want {
			t.Errorf("given = %s, want %s", got.names(), tc.want.names())
		}
	}
}
