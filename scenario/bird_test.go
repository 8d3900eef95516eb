package scenario_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// birdConf is a BIRD 2 configuration: OSPF on every interface, in area,
// with fast timers, and the routes it learns exported to the kernel.
func birdConf(id, area int) string {
	return fmt.Sprintf(`router id 0.0.0.%d;
log stderr all;
protocol device { scan time 1; }
protocol kernel { ipv4 { import none; export all; }; }
protocol ospf v2 {
	ipv4 { import all; export none; };
	area %d {
		interface "eth*" { hello 1; wait 2; dead 3; };
	};
}
`, id, area)
}

// birdLine: h1 – r1 – r2 – r3 – h3, no static routes between the routers:
// each runs bird from Debian's bird2 with its defaults (/etc/bird/bird.conf,
// control socket /run/bird/bird.ctl), which collide on one host and are
// private per node here. r2's area is area2.
func birdLine(area2 int) *scenario.Spec {
	s := scenario.Define("bird-ospf", "")
	s.Host("h1").Route("default", "r1")
	s.Host("h3").Route("default", "r3")
	for i, r := range []string{"r1", "r2", "r3"} {
		s.Router(r).PrivateDir("/etc/bird").PrivateDir("/run/bird")
		area := 0
		if r == "r2" {
			area = area2
		}
		s.Step(r+" config", scenario.WriteFile(r, "/etc/bird/bird.conf", birdConf(i+1, area)))
		s.Step(r+" bird", scenario.StartProcess(r, "bird", "bird", "-f"))
	}
	s.Link("h1", "r1").Subnet("10.60.1.0/24")
	s.Link("r1", "r2").Subnet("10.60.2.0/24")
	s.Link("r2", "r3").Subnet("10.60.3.0/24")
	s.Link("r3", "h3").Subnet("10.60.4.0/24")
	return s
}

// startBIRD builds the line and runs its steps (the birds start).
func startBIRD(t *testing.T, area2 int) *scenario.Network {
	t.Helper()
	n := scenario.New(t, birdLine(area2))
	for _, it := range n.Spec().Items() {
		if err := n.Apply(context.Background(), it.Action); err != nil {
			t.Fatalf("%s: %v", it.Name, err)
		}
	}
	return n
}

// birdc asks a router's own bird through its private control socket.
func birdc(t *testing.T, n *scenario.Network, node string, args ...string) string {
	t.Helper()
	c := n.Node(node).Command("birdc", append([]string{"-s", "/run/bird/bird.ctl"}, args...)...)
	if err := c.Run(); err != nil {
		t.Fatalf("birdc %s on %s: %v\n%s", strings.Join(args, " "), node, err, c.Output())
	}
	return c.Output()
}

// TestBIRDConvergesInPrivateDirs: three bird daemons, each with the
// default configuration path and control socket, converge (OSPF) so that
// h1 reaches h3 through routes only bird installed, and each birdc talks
// to its own router's bird. With r2 in another area (a broken network)
// no adjacency forms and h1 never reaches h3.
func TestBIRDConvergesInPrivateDirs(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, bin := range []string{"bird", "birdc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (Debian package bird2; make deps leaves it out: installing it starts a bird service in the host's namespace)", bin)
		}
	}
	ctx := context.Background()
	n := startBIRD(t, 0)
	if r := assert.Eventually(assert.Reach("h1", "h3"), 30*time.Second, 200*time.Millisecond)(ctx, n); r.Err != nil {
		t.Fatalf("OSPF did not converge: %v\nr1: %s", r.Err, birdc(t, n, "r1", "show", "ospf", "neighbors"))
	} else {
		t.Log(r.Evidence)
	}
	if r := assert.Routes("r1", "h3", assert.Gateway("10.60.2.2"))(ctx, n); r.Err != nil {
		t.Errorf("r1's route to h3: %v", r.Err)
	}
	for i, r := range []string{"r1", "r2", "r3"} {
		if out := birdc(t, n, r, "show", "status"); !strings.Contains(out, fmt.Sprintf("Router ID is 0.0.0.%d", i+1)) {
			t.Errorf("birdc on %s reached another bird:\n%s", r, out)
		}
	}
	n.Close()

	broken := startBIRD(t, 1)
	r := assert.Eventually(assert.Reach("h1", "h3"), 6*time.Second, 200*time.Millisecond)(ctx, broken)
	if r.Err == nil {
		t.Errorf("h1 reached h3 with r2 in another area: %s", r.Evidence)
	}
	if out := birdc(t, broken, "r1", "show", "ospf", "neighbors"); strings.Contains(out, "Full") {
		t.Errorf("r1 has a full adjacency across areas:\n%s", out)
	}
}
