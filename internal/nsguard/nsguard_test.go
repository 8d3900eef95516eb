package nsguard

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// TestSweepKillsOnlyWhatItHolds drives the guard's side of the connection
// directly: of two namespaces handed to it, one is released; when the
// owner's end closes, the process in the held namespace is killed and the
// one in the released namespace is left alone.
func TestSweepKillsOnlyWhatItHolds(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux) to start a process in a new namespace")
	}
	held, heldNS := inNewNamespace(t)
	released, releasedNS := inNewNamespace(t)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	code := make(chan int, 1)
	go func() { code <- serve(fds[1]) }()
	guard.fd = fds[0]
	t.Cleanup(func() { guard.fd, guard.err = -1, nil })
	for id, ns := range map[uint64]netns.NsHandle{1: heldNS, 2: releasedNS} {
		if err := send(opAdd, id, int(ns)); err != nil {
			t.Fatal(err)
		}
	}
	if err := send(opRelease, 2, -1); err != nil {
		t.Fatal(err)
	}
	unix.Close(fds[0])
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("guard exit code %d", c)
		}
	case <-time.After(sweepTimeout + 5*time.Second):
		t.Fatal("the guard did not end after its owner's end closed")
	}
	if err := held.Wait(); err == nil {
		t.Error("the process in the held namespace was not killed")
	}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(released.Process.Pid) + "/stat"); err != nil || bytes.Contains(b, []byte(") Z")) {
		t.Error("the process in the released namespace was killed")
	}
}

// inNewNamespace starts sleep in a new network namespace and returns it
// with a descriptor of the namespace; cleanup kills it.
func inNewNamespace(t *testing.T) (*exec.Cmd, netns.NsHandle) {
	t.Helper()
	cmd := exec.Command("unshare", "-n", "sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		if cmd.ProcessState == nil {
			cmd.Wait()
		}
	})
	self, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ns, err := netns.GetFromPid(cmd.Process.Pid)
		if err == nil && !ns.Equal(self) {
			t.Cleanup(func() { ns.Close() })
			return cmd, ns
		}
		if err == nil {
			ns.Close()
		}
		if time.Now().After(deadline) {
			t.Fatal("unshare did not enter a new namespace in time")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}
