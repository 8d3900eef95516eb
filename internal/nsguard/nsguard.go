// Package nsguard kills the processes left in a process's network
// namespaces when that process dies, however it dies.
//
// Teardown kills every process of a node's namespace (nsx.KillProcessesIn).
// A process that is killed (SIGKILL, the OOM killer) runs no teardown:
// children started with a parent-death signal die with it, but a daemon
// that left its parent (setsid, double fork) would live on and keep the
// namespace. The guard is a second process, started on first use (the
// running binary again, through /proc/self/exe): it is handed each
// namespace that foreign code may use, and when the connection to its
// owner closes, which the kernel does when the owner dies, it kills every
// process still in those namespaces and exits. A namespace released after
// a normal teardown is dropped; a normal exit leaves the guard nothing to
// do.
//
// The guard holds a descriptor of each namespace it watches, so a
// namespace it will sweep cannot be freed and its inode reused by someone
// else's namespace in the meantime.
package nsguard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/nsx"
)

// envGuard marks the process started as a guard; its value is the pid of
// the owner, for whoever lists processes.
const envGuard = "VTEST_NSGUARD_OF"

// guardName is the guard's argv[0], as ps shows it.
const guardName = "vtest-nsguard"

// sweepTimeout bounds how long the guard waits for the processes it killed.
const sweepTimeout = 30 * time.Second

// Main runs the guard and exits when this process was started as one; it
// returns at once otherwise. Call it before anything else runs: the
// scenario package calls it from its init function, so that every binary
// that can start processes in a node (a suite, a test binary) can also be
// its own guard.
func Main() {
	if os.Getenv(envGuard) == "" || len(os.Args) == 0 || os.Args[0] != guardName {
		return
	}
	// The owner's Ctrl-C or SIGTERM is not the guard's: it ends when the
	// owner's end of the connection closes.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE)
	os.Exit(serve(3))
}

// Watch is one namespace handed to the guard.
type Watch struct{ id uint64 }

// guard is the connection to this process's guard: one per process,
// started on first use.
var guard struct {
	mu     sync.Mutex
	fd     int // our end of the connection; -1 until started
	cmd    *exec.Cmd
	nextID uint64
	err    error // why the guard could not be started or reached
}

func init() { guard.fd = -1 }

// Add hands the namespace ns to the guard: if this process dies before
// Release, every process in ns is killed. It starts the guard on first use.
func Add(ns netns.NsHandle) (*Watch, error) {
	guard.mu.Lock()
	defer guard.mu.Unlock()
	if err := start(); err != nil {
		return nil, err
	}
	guard.nextID++
	w := &Watch{id: guard.nextID}
	if err := send(opAdd, w.id, int(ns)); err != nil {
		return nil, err
	}
	return w, nil
}

// Release tells the guard that the namespace's processes are gone (a
// teardown killed them): it closes its descriptor and will not sweep it.
// Release of nil does nothing.
func (w *Watch) Release() error {
	if w == nil {
		return nil
	}
	guard.mu.Lock()
	defer guard.mu.Unlock()
	return send(opRelease, w.id, -1)
}

const (
	opAdd     byte = '+'
	opRelease byte = '-'
)

// send writes one message: the operation and the id, with the namespace's
// descriptor for an add. Call it with guard.mu held.
func send(op byte, id uint64, fd int) error {
	if guard.err != nil {
		return guard.err
	}
	msg := make([]byte, 9)
	msg[0] = op
	binary.LittleEndian.PutUint64(msg[1:], id)
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	if err := unix.Sendmsg(guard.fd, msg, oob, nil, 0); err != nil {
		guard.err = fmt.Errorf("the process guard (pid %d) does not answer: %w", guard.cmd.Process.Pid, err)
		return guard.err
	}
	return nil
}

// start starts the guard if it is not running. Call it with guard.mu held.
func start() error {
	if guard.fd >= 0 || guard.err != nil {
		return guard.err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		guard.err = fmt.Errorf("start the process guard: %w", err)
		return guard.err
	}
	theirs := os.NewFile(uintptr(fds[1]), "nsguard")
	defer theirs.Close()
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{guardName},
		Env:        []string{envGuard + "=" + strconv.Itoa(os.Getpid()), "GOMAXPROCS=1"},
		Dir:        "/",
		ExtraFiles: []*os.File{theirs},
		// A session of its own: a signal to the owner's process group
		// (Ctrl-C, kill -9 -PGID) does not reach it.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	// Started from a new goroutine: the caller may be locked to a thread
	// in a node's namespaces, which the guard must not live in.
	errc := make(chan error, 1)
	go func() { errc <- cmd.Start() }()
	if err := <-errc; err != nil {
		unix.Close(fds[0])
		guard.err = fmt.Errorf("start the process guard (%s): %w", cmd.Path, err)
		return guard.err
	}
	guard.fd, guard.cmd = fds[0], cmd
	// Not waited for: it outlives this process unless killed, and a
	// goroutine waiting for it would show as a leak to checkers such as
	// goleak. Killed, it stays a zombie until this process exits, and the
	// next send reports it.
	return nil
}

// serve is the guard: it reads namespaces from the connection on fd until
// the owner's end closes, then kills every process left in those it still
// holds. It returns the exit code.
func serve(fd int) int {
	held := map[uint64]netns.NsHandle{}
	buf := make([]byte, 16)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			break // the owner is gone
		}
		var got []int
		if oobn > 0 {
			if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, m := range msgs {
					if fds, err := unix.ParseUnixRights(&m); err == nil {
						got = append(got, fds...)
					}
				}
			}
		}
		if n != 9 {
			closeAll(got)
			continue
		}
		id := binary.LittleEndian.Uint64(buf[1:9])
		switch buf[0] {
		case opAdd:
			if len(got) == 1 {
				held[id] = netns.NsHandle(got[0])
				continue
			}
		case opRelease:
			if ns, ok := held[id]; ok {
				ns.Close()
				delete(held, id)
			}
		}
		closeAll(got)
	}
	if len(held) == 0 {
		return 0
	}
	nss := make([]netns.NsHandle, 0, len(held))
	for _, ns := range held {
		nss = append(nss, ns)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sweepTimeout)
	defer cancel()
	if err := nsx.KillProcessesIn(ctx, nss...); err != nil {
		return 1
	}
	return 0
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
