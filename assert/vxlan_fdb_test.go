package assert_test

import (
	"testing"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestSelfFDBEntry: vtep-a's flood entry towards vtep-b's underlay address
// is found in VNI 42; a wrong dst, a wrong VNI, and a MAC with no entry
// fail, and Absent turns each round. An appended unicast entry is found;
// after VXLANFDBDel it is gone.
func TestSelfFDBEntry(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, overlay(42, 42))
	check := func(what string, c scenario.CheckFunc, pass bool, want ...string) {
		t.Helper()
		if err := n.ValidateCheck(c); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		r := c(ctx, n)
		switch {
		case pass && r.Err != nil:
			t.Errorf("%s: %v", what, r.Err)
		case !pass && r.Err == nil:
			t.Errorf("%s passed: %s", what, r.Evidence)
		case !pass && !contains(r.Err.Error(), want...):
			t.Errorf("%s: %v, want %q", what, r.Err, want)
		}
	}
	flood := assert.SelfFDB{Dst: "10.50.2.1", VNI: 42}
	check("flood entry", assert.SelfFDBEntry("vtep-a:vx0", flood), true)
	check("flood entry absent", assert.SelfFDBEntry("vtep-a:vx0", flood, assert.Absent()), false, "want none", "00:00:00:00:00:00 dst 10.50.2.1 vni 42 self")
	check("wrong dst", assert.SelfFDBEntry("vtep-a:vx0", assert.SelfFDB{Dst: "10.50.2.9"}), false, "wrong dst or VNI", "dst 10.50.2.1 vni 42")
	check("wrong dst absent", assert.SelfFDBEntry("vtep-a:vx0", assert.SelfFDB{Dst: "10.50.2.9"}, assert.Absent()), true)
	check("wrong VNI", assert.SelfFDBEntry("vtep-a:vx0", assert.SelfFDB{Dst: "10.50.2.1", VNI: 43}), false, "wrong dst or VNI")
	const mac = "02:00:00:00:50:02"
	check("missing entry", assert.SelfFDBEntry("vtep-a:vx0", assert.SelfFDB{MAC: mac}), false, "no VXLAN FDB entry for "+mac, "no self entry")
	if err := n.Apply(ctx, scenario.VXLANFDBAppend("vtep-a:vx0", mac, "10.50.2.1")); err != nil {
		t.Fatal(err)
	}
	check("appended entry", assert.SelfFDBEntry("vtep-a:vx0", assert.SelfFDB{MAC: mac, Dst: "10.50.2.1", VNI: 42}), true)
	check("appended entry, wrong dst", assert.SelfFDBEntry("vtep-a:vx0", assert.SelfFDB{MAC: mac, Dst: "10.50.1.1"}), false, "wrong dst or VNI")
	if err := n.Apply(ctx, scenario.VXLANFDBDel("vtep-a:vx0", mac, "10.50.2.1")); err != nil {
		t.Fatal(err)
	}
	check("deleted entry", assert.SelfFDBEntry("vtep-a:vx0", assert.SelfFDB{MAC: mac}), false, "no VXLAN FDB entry for "+mac)
	check("deleted entry absent", assert.SelfFDBEntry("vtep-a:vx0", assert.SelfFDB{MAC: mac}, assert.Absent()), true)
	check("not a VXLAN", assert.SelfFDBEntry("vtep-a:br0", flood), false, "not a VXLAN")

	for _, tc := range []struct {
		c    scenario.CheckFunc
		want string
	}{
		{assert.SelfFDBEntry("vtep-a:vx9", flood), `node "vtep-a" has no interface "vx9"`},
		{assert.SelfFDBEntry("vtep-a:vx0", assert.SelfFDB{MAC: "zz"}), `MAC "zz" is not a MAC address`},
		{assert.SelfFDBEntry("vtep-a:vx0", assert.SelfFDB{Dst: "vtep-b"}), `dst "vtep-b" is not an IP address`},
		{assert.SelfFDBEntry("vtep-a:vx0", flood, assert.Count(2)), "does not read option Count"},
	} {
		if err := n.ValidateCheck(tc.c); err == nil || !contains(err.Error(), tc.want) {
			t.Errorf("validate: %v, want %s", err, tc.want)
		}
	}
}
