package assert_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestFDBStaticEntryForwards: a declared static FDB entry forwards frames
// for its MAC through its port (and only there: the bridge does not flood
// them), FDBLookup calls it static on that port, and bridge fdb show
// agrees. A local entry for another MAC on the same port (what vtest used
// to install) swallows the frames, and FDBLookup with Via refuses it.
func TestFDBStaticEntryForwards(t *testing.T) {
	hostcheck.RequireRoot(t)
	const static, local = "02:00:00:00:00:42", "02:00:00:00:00:43"
	s := scenario.Define("fdb-static", "")
	s.Host("sw").Iface("br0", scenario.Bridge{FDB: []scenario.FDBEntry{{MAC: static, Port: "p2"}}}).Members("p1", "p2", "p3")
	s.Host("a")
	s.Host("b")
	s.Host("c")
	s.Link("a", "sw:p1").Addrs("10.4.0.1/24", "")
	s.Link("b", "sw:p2").Addrs("10.4.0.2/24", "")
	s.Link("c", "sw:p3").Addrs("10.4.0.3/24", "")
	n := scenario.New(t, s)
	sw := n.Node("sw")

	// The broken twin: a local entry on p2, as bridge fdb add … local.
	lmac, _ := net.ParseMAC(local)
	p2 := sw.Interface("p2")
	if err := sw.Netlink().NeighAdd(&netlink.Neigh{LinkIndex: p2.Index, Family: unix.AF_BRIDGE,
		State: netlink.NUD_NOARP | netlink.NUD_PERMANENT, Flags: netlink.NTF_MASTER, HardwareAddr: lmac}); err != nil {
		t.Fatal(err)
	}
	out := bridgeFDB(t, sw)
	for _, w := range []string{static + " dev p2 master br0 static", local + " dev p2 master br0 permanent"} {
		if !strings.Contains(out, w) {
			t.Errorf("bridge fdb show lacks %q:\n%s", w, out)
		}
	}

	frame := func(mac string) assert.Frame { return assert.Frame{DstMAC: mac, Dst: "10.4.0.2", DstPort: 4242} }
	seen := func(mac string) assert.Match { return assert.Match{DstMAC: mac, DstPort: 4242} }
	r, err := assert.FramesTo(ctx, n, "a:eth0", frame(static), "b:eth0", seen(static))
	mustPass(t, "frame for the static MAC at the host behind p2", r, err)
	r, err = assert.FramesTo(ctx, n, "a:eth0", frame(static), "c:eth0", seen(static), assert.Expect(assert.NoFrames))
	mustPass(t, "frame for the static MAC not flooded to p3", r, err)
	r, err = assert.FramesTo(ctx, n, "a:eth0", frame(local), "b:eth0", seen(local))
	mustFail(t, "frame for the local MAC at the host behind p2", r, err, "0 matching")

	smac, _ := net.ParseMAC(static)
	fr, err := assert.FDBLookup(ctx, sw, smac, assert.Via("p2"), assert.Expect(assert.FDBStatic))
	mustPass(t, "static entry on p2", fr, err)
	if fr != nil && !strings.Contains(fr.Evidence(), "dev p2 static") {
		t.Errorf("evidence: %s", fr.Evidence())
	}
	fr, err = assert.FDBLookup(ctx, sw, smac, assert.Expect(assert.FDBLearned))
	mustFail(t, "static entry as learned", fr, err, "is static, not learned")
	fr, err = assert.FDBLookup(ctx, sw, smac, assert.Expect(assert.FDBLocal))
	mustFail(t, "static entry as local", fr, err, "is static, not local")
	fr, err = assert.FDBLookup(ctx, sw, smac, assert.VLAN(10))
	mustFail(t, "static entry in VLAN 10", fr, err, "wrong VLAN")
	fr, err = assert.FDBLookup(ctx, sw, smac, assert.Via("p3"))
	mustFail(t, "static entry on p3", fr, err, "wrong port", "dev p2 static")
	fr, err = assert.FDBLookup(ctx, sw, smac, assert.Via("p3"), assert.Absent())
	mustPass(t, "no entry on p3", fr, err)
	fr, err = assert.FDBLookup(ctx, sw, smac, assert.Expect(assert.FDBStatic), assert.Absent())
	mustFail(t, "static entry absent", fr, err, "exists")

	fr, err = assert.FDBLookup(ctx, sw, lmac, assert.Via("p2"))
	mustFail(t, "local entry on p2", fr, err, "is a local entry", "never leave through p2", "delivered to the bridge itself")
	fr, err = assert.FDBLookup(ctx, sw, lmac, assert.Via("p2"), assert.Expect(assert.FDBStatic))
	mustFail(t, "local entry as static", fr, err, "is a local entry")
	fr, err = assert.FDBLookup(ctx, sw, lmac, assert.Expect("permanent"))
	mustPass(t, "local entry as local", fr, err)
	// A port's own MAC is a local entry on it too.
	fr, err = assert.FDBLookup(ctx, sw, p2.MAC, assert.Via("p2"))
	mustFail(t, "p2's own MAC on p2", fr, err, "is a local entry")
	if res := assert.FDBEntry("sw", "sw:p2", assert.Expect(assert.FDBLocal))(ctx, n); res.Err != nil {
		t.Errorf("scenario form: %v", res.Err)
	}
	if _, err := assert.FDBLookup(ctx, sw, smac, assert.Expect("sticky")); err == nil || !strings.Contains(err.Error(), `kind "sticky" is not static, learned, extern_learn or local`) {
		t.Errorf("unknown kind: %v", err)
	}
}

// bridgeFDB runs bridge fdb show in a node's namespace, to cross-check
// vtest with iproute2.
func bridgeFDB(t *testing.T, nd *scenario.Node) string {
	t.Helper()
	if _, err := exec.LookPath("bridge"); err != nil {
		t.Skip("bridge is not installed (make deps installs iproute2)")
	}
	ns := fmt.Sprintf("--net=/proc/%d/fd/%d", os.Getpid(), nd.NamespaceFd())
	out, err := exec.CommandContext(context.Background(), "nsenter", ns, "bridge", "fdb", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("bridge fdb show: %v\n%s", err, out)
	}
	return string(out)
}
