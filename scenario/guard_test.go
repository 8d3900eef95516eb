package scenario_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// guardChildDir, set, makes TestDaemonsDieWithAKilledProcess the child:
// it builds a network, leaves daemons in a node and waits to be killed.
const guardChildDir = "VTEST_GUARD_TEST_DIR"

// TestDaemonsDieWithAKilledProcess kills (SIGKILL) a process that built a
// network and left daemons in a node: one started by a Cmd, one from Do,
// each in a session of its own with its parent gone, so neither a
// parent-death signal nor a process-group kill reaches it, and no teardown
// runs. The process guard kills both, and exits.
func TestDaemonsDieWithAKilledProcess(t *testing.T) {
	if dir := os.Getenv(guardChildDir); dir != "" {
		guardChild(t, dir)
		return
	}
	hostcheck.RequireRoot(t)
	before := hostcheck.Take(t)
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^TestDaemonsDieWithAKilledProcess$", "-test.count=1")
	child.Env = append(os.Environ(), guardChildDir+"="+dir)
	var out bytes.Buffer
	child.Stdout, child.Stderr = &out, &out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	var pids []int
	deadline := time.Now().Add(20 * time.Second)
	for len(pids) < 2 {
		pids = pids[:0]
		for _, f := range []string{"cmd.pid", "do.pid"} {
			if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil && bytes.HasSuffix(b, []byte("\n")) {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					pids = append(pids, pid)
				}
			}
		}
		select {
		case err := <-done:
			t.Fatalf("the child ended before it was killed (%v):\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			child.Process.Kill()
			t.Fatalf("the child did not start its daemons in time:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond) // polling for the files, with a deadline
	}
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("daemon %d is not running before the kill", pid)
		}
	}
	guards := guardsOf(child.Process.Pid)
	if len(guards) != 1 {
		t.Errorf("want one guard of process %d, found %v", child.Process.Pid, guards)
	}
	child.Process.Signal(syscall.SIGKILL)
	<-done
	deadline = time.Now().Add(10 * time.Second)
	for {
		left := guardsOf(child.Process.Pid)
		for _, pid := range pids {
			if alive(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("alive 10 s after their owner was killed: %v (daemons %v)", left, pids)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
	hostcheck.Unchanged(t, before)
}

// guardChild is the killed process of TestDaemonsDieWithAKilledProcess.
func guardChild(t *testing.T, dir string) {
	n := scenario.New(t, pair("guarded"))
	nd := n.Node("left")
	daemon := `setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > "$1.tmp" && mv "$1.tmp" "$1"`
	if err := nd.Command("sh", "-c", daemon, "sh", filepath.Join(dir, "cmd.pid")).Run(); err != nil {
		t.Fatal(err)
	}
	err := nd.Do(func() error {
		return exec.Command("sh", "-c", daemon, "sh", filepath.Join(dir, "do.pid")).Run()
	})
	if err != nil {
		t.Fatal(err)
	}
	select {} // until killed
}

// guardsOf lists the process guards whose owner is pid.
func guardsOf(pid int) []int {
	var guards []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	want := []byte(fmt.Sprintf("VTEST_NSGUARD_OF=%d\x00", pid))
	for _, d := range dirs {
		env, _ := os.ReadFile(d + "/environ")
		if bytes.Contains(env, want) {
			p, _ := strconv.Atoi(filepath.Base(d))
			guards = append(guards, p)
		}
	}
	return guards
}
