package assert_test

import (
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// matrixSpec is h1, h2 on switch sw1 and h3 on sw2, routed by r; h4 and
// h5 on sw3, which no router joins.
func matrixSpec() *scenario.Spec {
	s := scenario.Define("matrix", "")
	s.Router("r")
	s.Switch("sw1").Subnet("10.0.1.0/24")
	s.Switch("sw2").Subnet("10.0.2.0/24")
	s.Switch("sw3").Subnet("10.0.3.0/24")
	for _, h := range []struct{ name, sw string }{{"h1", "sw1"}, {"h2", "sw1"}, {"h3", "sw2"}} {
		s.Host(h.name).Route("default", "r")
		s.Link(h.name, h.sw)
	}
	s.Host("h4")
	s.Host("h5")
	s.Link("h4", "sw3")
	s.Link("h5", "sw3")
	s.Link("r", "sw1")
	s.Link("r", "sw2")
	return s
}

// TestMatrix: all pairs reach and the two sets are isolated on the
// healthy network; with h3's default route deleted, the table marks
// exactly the pairs to and from h3, and a set wrongly said isolated is
// marked as reaching.
func TestMatrix(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, matrixSpec())
	sets := [][]string{{"h1", "h2", "h3"}, {"h4", "h5"}}
	r, err := assert.ReachMatrix(ctx, n, sets)
	mustPass(t, "healthy matrix", r, err)
	if r != nil {
		t.Log("\n" + r.Evidence())
		if len(r.Pairs) != 20 || r.Wrong != 0 {
			t.Errorf("healthy: %d pairs, %d wrong", len(r.Pairs), r.Wrong)
		}
	}
	// Sets that are not isolated: h1 and h2 share a switch.
	r, err = assert.ReachMatrix(ctx, n, [][]string{{"h1", "h3"}, {"h2"}})
	mustFail(t, "sets sharing a switch", r, err, "4 of 6 pairs wrong", "h1 → h2 (10.0.1.", "should be isolated")

	// Break h3: no default route.
	h3 := n.Node("h3")
	routes, err := h3.Netlink().RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range routes {
		if rt.Dst == nil || rt.Dst.IP.IsUnspecified() {
			if err := h3.Netlink().RouteDel(&rt); err != nil {
				t.Fatal(err)
			}
		}
	}
	r, err = assert.ReachMatrix(ctx, n, sets)
	mustFail(t, "h3 without its route", r, err, "4 of 20 pairs wrong", "h3 → h1", "h1 → h3", "h3 → h2", "h2 → h3", "should reach",
		// Each unreached pair names its first break, as every failing
		// traffic check ends with the walk; the whole walk of the first.
		"walk: forward path: h3 has no route to 10.0.1.", "walk: return path: h3 has no route to 10.0.1.", "path walk ")
	if r != nil {
		t.Log("\n" + r.Evidence())
		for _, p := range r.Pairs {
			if wrong := (p.From == "h3" || p.To == "h3") && p.Want; wrong == (p.Want && p.Reached || !p.Want && p.Received == 0) {
				t.Errorf("pair %s → %s marked wrongly: %+v", p.From, p.To, p)
			}
		}
		if strings.Contains(r.Evidence(), "h1 → h2") {
			t.Errorf("a healthy pair listed as wrong:\n%s", r.Evidence())
		}
	}
	if res := assert.AllReach([]string{"h1", "h2", "h3"})(ctx, n); res.Err == nil {
		t.Errorf("scenario form passed without h3's route: %s", res.Evidence)
	}
	if res := assert.AllReach([]string{"h1", "h2"})(ctx, n); res.Err != nil {
		t.Errorf("scenario form, healthy pairs: %v", res.Err)
	}
}

// TestMatrixValidates: wrong sets and unread options are refused before
// anything is built.
func TestMatrixValidates(t *testing.T) {
	for _, tc := range []struct {
		check scenario.CheckFunc
		want  string
	}{
		{assert.AllReach([]string{"client"}), "a matrix needs at least two nodes"},
		{assert.Matrix([][]string{{"client", "server"}, {"client"}}), `node "client" is named twice`},
		{assert.Matrix([][]string{{"client"}, {}}), "set 2 is empty"},
		{assert.AllReach([]string{"client", "nowhere"}), `"nowhere"`},
		{assert.AllReach([]string{"client", "server"}, assert.Port(80)), "assert.Matrix does not read option Port"},
	} {
		err := checked("c", tc.check).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
	if err := checked("c", assert.Matrix([][]string{{"client", "server"}, {"h1", "h2"}}, assert.Count(2))).Validate(); err != nil {
		t.Errorf("a good matrix refused: %v", err)
	}
}
