package scenario_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestDaemonFromDoDiesAtTeardown starts, from inside Node.Do, a shell that
// leaves a daemon behind in a session of its own (setsid, its parent gone):
// nothing of vtest's knows the process, yet teardown kills it, found by its
// namespace, because Do marked the node for the process scan. Without the
// mark the daemon survives the teardown.
func TestDaemonFromDoDiesAtTeardown(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair("do-daemon"))
	pidFile := filepath.Join(t.TempDir(), "daemon.pid")
	err := n.Node("left").Do(func() error {
		return exec.Command("sh", "-c", `setsid sleep 1000 & echo $! > "$1"`, "sh", pidFile).Run()
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !alive(pid) {
		t.Fatalf("daemon PID %q (%v): not running", b, err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	if alive(pid) {
		exec.Command("kill", "-9", strconv.Itoa(pid)).Run()
		t.Fatalf("daemon %d, started from Do, survived the teardown", pid)
	}
}

// TestOwnCodeNeedsNoProcessScan: building, vtest's own checks (a ping, a
// reach, an ARP exchange, a TCP connection), Dial, Listen, ListenPacket,
// Sysctl and SetSysctl and a state dump run no foreign code in a node, so
// teardown scans no namespace for processes; Do, NamespaceFd and a started
// process each mark their node.
func TestOwnCodeNeedsNoProcessScan(t *testing.T) {
	hostcheck.RequireRoot(t)
	n := scenario.New(t, pair("own-code"))
	ctx := context.Background()
	left, right := n.Node("left"), n.Node("right")
	own := []struct {
		name string
		fn   func() error
	}{
		{"ping", func() error { _, err := assert.Ping(ctx, left, right.IPv4()); return err }},
		{"reach", func() error { return assert.Reach("left", "right")(ctx, n).Err }},
		{"arp", func() error {
			_, err := assert.ARP(ctx, left, left.Interfaces()[0].Name, right.IPv4())
			return err
		}},
		{"listen, dial, tcp", func() error {
			l, err := right.Listen("tcp", ":7")
			if err != nil {
				return err
			}
			defer l.Close()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			c, err := left.Dial(ctx, "tcp", "right:7")
			if err != nil {
				return err
			}
			c.Close()
			_, err = assert.TCPConnect(ctx, left, right.IPv4(), assert.Port(7))
			return err
		}},
		{"listen packet", func() error {
			c, err := left.ListenPacket("udp", ":0")
			if err == nil {
				c.Close()
			}
			return err
		}},
		{"sysctl", func() error {
			v, err := left.Sysctl("net.ipv4.ip_forward")
			if err == nil {
				err = left.SetSysctl("net.ipv4.ip_forward", v)
			}
			return err
		}},
		{"dump", func() error {
			if s := n.DumpState(); !strings.Contains(s, "left") {
				return fmt.Errorf("dump lacks node left:\n%s", s)
			}
			return nil
		}},
	}
	for _, o := range own {
		if err := o.fn(); err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
		if got := scenario.ForeignNodes(n); len(got) > 0 {
			t.Fatalf("after %s (vtest's own code), teardown would scan for processes in %v", o.name, got)
		}
	}
	if err := left.Do(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := scenario.ForeignNodes(n); !slices.Equal(got, []string{"left"}) {
		t.Errorf("after left.Do: nodes marked %v, want [left]", got)
	}
	_ = right.NamespaceFd()
	if got := scenario.ForeignNodes(n); !slices.Equal(got, []string{"left", "right"}) {
		t.Errorf("after right.NamespaceFd: nodes marked %v, want [left right]", got)
	}
}
