// Package nsx is vtest's kernel plumbing for network namespaces: it creates
// anonymous namespaces, runs code inside them on locked OS threads, and reads
// and writes per-namespace sysctls.
//
// Every function here follows one rule: an OS thread that entered a foreign
// namespace either returns to the host namespace before it is unlocked, or it
// is never unlocked and dies with its goroutine. A poisoned thread never goes
// back to the Go scheduler's pool.
package nsx

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// hostNS opens, on first use, the namespace the process started in, and
// keeps it open. It is taken lazily (as PID 1 of a VM, /proc is mounted
// only after package initialisation) from an unlocked goroutine: vtest
// never returns a thread to the pool in a foreign namespace, so any
// unlocked goroutine runs in the host namespace.
var hostNS = sync.OnceValues(func() (netns.NsHandle, error) { return netns.Get() })

// Host returns the handle of the namespace the process started in.
func Host() (netns.NsHandle, error) {
	h, err := hostNS()
	if err != nil {
		return netns.None(), fmt.Errorf("open host network namespace: %w", err)
	}
	return h, nil
}

// goLocked starts fn on a new goroutine locked to an OS thread that is not
// the process's main thread. fn unlocks the thread only once it is back in
// the host namespace; otherwise the thread dies with the goroutine.
//
// The main thread is special: the runtime never terminates it. A goroutine
// that exits while locked to it wedges it, in whatever namespace it entered,
// and that namespace then lives until the process ends. Any goroutine may
// happen to run on the main thread, so when this one does, it keeps the main
// thread locked (and idle) while fn runs on a goroutine that therefore gets
// another thread.
func goLocked(fn func()) {
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			fn()
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread()
			fn()
		}()
		<-done
		runtime.UnlockOSThread() // the main thread never left the host namespace
	}()
}

// New creates an anonymous network namespace (held only by the returned file
// descriptor, never bind-mounted), runs setup inside it on the creating
// thread, and returns the descriptor. The kernel frees the namespace and
// everything in it once the descriptor and every socket opened inside are
// closed, including when the process is killed.
//
// The creating thread returns to the host namespace afterwards and goes back
// to the pool (creating a thread costs about 0.1 ms); if it cannot return,
// it stays locked and dies with its goroutine.
func New(setup func() error) (netns.NsHandle, error) {
	h, err := Host()
	if err != nil {
		return netns.None(), err
	}
	type result struct {
		ns  netns.NsHandle
		err error
	}
	ch := make(chan result, 1)
	goLocked(func() {
		ns, err := netns.New()
		if err != nil {
			// unshare may have succeeded and only opening the new
			// namespace failed: return to the host before unlocking.
			if netns.Set(h) == nil {
				runtime.UnlockOSThread()
			}
			ch <- result{netns.None(), fmt.Errorf("unshare network namespace: %w", err)}
			return
		}
		var setupErr error
		if setup != nil {
			func() {
				defer func() {
					if r := recover(); r != nil {
						setupErr = fmt.Errorf("panic inside network namespace: %v", r)
					}
				}()
				setupErr = setup()
			}()
		}
		if setupErr != nil {
			ns.Close()
			ns = netns.None()
		}
		if err := netns.Set(h); err != nil {
			// Cannot return to the host: keep the thread locked so that it
			// dies with this goroutine.
			ns.Close()
			ch <- result{netns.None(), errors.Join(setupErr, fmt.Errorf("return to host network namespace: %w", err))}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{ns, setupErr}
	})
	r := <-ch
	return r.ns, r.err
}

// Do runs fn on a fresh OS thread that has entered ns, and waits for it.
// Goroutines that fn starts do not inherit the namespace; sockets that fn
// opens stay in ns and may be used from anywhere afterwards.
func Do(ns netns.NsHandle, fn func() error) error {
	h, err := Host()
	if err != nil {
		return err
	}
	ch := make(chan error, 1)
	goLocked(func() {
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread() // still in the host namespace: safe
			ch <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		var fnErr error
		func() {
			defer func() {
				if r := recover(); r != nil {
					fnErr = fmt.Errorf("panic inside network namespace: %v", r)
				}
			}()
			fnErr = fn()
		}()
		if err := netns.Set(h); err != nil {
			// Cannot return to the host: keep the thread locked so that it
			// dies with this goroutine.
			ch <- errors.Join(fnErr, fmt.Errorf("return to host network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		ch <- fnErr
	})
	return <-ch
}

// Thread is a long-lived OS thread parked inside a namespace. Processes
// started from it get a parent-death signal tied to this thread, so they die
// when the thread ends: at Close, or when the process dies.
type Thread struct {
	work chan func()
	done chan struct{}
}

// NewThread starts a thread inside ns.
func NewThread(ns netns.NsHandle) (*Thread, error) { return NewThreadWith(ns, nil) }

// NewThreadWith starts a thread inside ns and runs setup on it first (for
// example to give it namespaces of its own: unshare affects only this
// thread, which is never handed back to the Go scheduler). A setup error
// ends the thread.
func NewThreadWith(ns netns.NsHandle, setup func() error) (*Thread, error) {
	t := &Thread{work: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	goLocked(func() {
		defer close(t.done)
		// Never unlocked: the thread dies when this goroutine returns.
		if err := netns.Set(ns); err != nil {
			ready <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		if setup != nil {
			if err := setup(); err != nil {
				ready <- err
				return
			}
		}
		ready <- nil
		for fn := range t.work {
			fn()
		}
	})
	if err := <-ready; err != nil {
		return nil, err
	}
	return t, nil
}

// Do runs fn on the thread and waits for it.
func (t *Thread) Do(fn func() error) error {
	ch := make(chan error, 1)
	t.work <- func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- fmt.Errorf("panic inside network namespace: %v", r)
			}
		}()
		ch <- fn()
	}
	return <-ch
}

// Close ends the thread and waits until its goroutine has returned.
func (t *Thread) Close() {
	close(t.work)
	<-t.done
}

// SysctlPath maps a network sysctl's name ("net.ipv4.ip_forward") to its
// file under /proc/sys, or says why the name is not one (CheckSysctlName).
func SysctlPath(name string) (string, error) {
	if err := CheckSysctlName(name); err != nil {
		return "", err
	}
	return "/proc/sys/" + strings.ReplaceAll(name, ".", "/"), nil
}

// CheckSysctlName says why name is not the name of a network sysctl, or
// returns nil. Only net.* sysctls belong to a network namespace; every
// other one is the host's. So a name is "net" and then elements separated
// by dots, each made of letters, digits, "_" and "-": no "/", no empty,
// "." or ".." element, nothing that could lead out of /proc/sys/net
// ("net/../kernel/hostname" would set the host's name).
func CheckSysctlName(name string) error {
	elems := strings.Split(name, ".")
	if len(elems) < 2 || elems[0] != "net" {
		return fmt.Errorf("%q is not a network sysctl: only net.* sysctls are per namespace (write it like net.ipv4.conf.all.rp_filter)", name)
	}
	for _, e := range elems[1:] {
		if e == "" || strings.TrimFunc(e, isSysctlNameRune) != "" {
			return fmt.Errorf("%q is not a network sysctl name: its elements are are letters, digits, _ and - separated by dots (write it like net.ipv4.conf.all.rp_filter)", name)
		}
	}
	return nil
}

func isSysctlNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}

// WriteSysctl writes a sysctl of the calling thread's network namespace. Call
// it inside Do or New's setup. It uses the system calls directly: the os
// package's Open adds an fstat and an epoll registration attempt, which
// double the cost of a sysctl (10–20 µs) and vtest writes several per
// namespace.
func WriteSysctl(name, value string) error {
	if err := CheckSysctlName(name); err != nil {
		return err
	}
	fd, err := openSysctl(name, unix.O_WRONLY|unix.O_TRUNC)
	if err != nil {
		return fmt.Errorf("sysctl %s: %w", name, err)
	}
	_, err = ignoringEINTR(func() (int, error) { return unix.Write(fd, []byte(value)) })
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", name, value, err)
	}
	return nil
}

// ReadSysctl reads a sysctl of the calling thread's network namespace.
func ReadSysctl(name string) (string, error) {
	path, err := SysctlPath(name)
	if err != nil {
		return "", err
	}
	b, err := ReadProc(path)
	if err != nil {
		return "", fmt.Errorf("sysctl %s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// ReadProc reads a file of /proc with plain system calls (see WriteSysctl),
// in the calling thread's network namespace for /proc/net and /proc/sys/net.
func ReadProc(path string) ([]byte, error) {
	fd, err := openProc(path, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var b []byte
	buf := make([]byte, 512)
	for {
		n, err := ignoringEINTR(func() (int, error) { return unix.Read(fd, buf) })
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return b, nil
		}
		b = append(b, buf[:n]...)
	}
}

func openSysctl(name string, flags int) (int, error) {
	path, err := SysctlPath(name)
	if err != nil {
		return -1, err
	}
	return openProc(path, flags)
}

func openProc(path string, flags int) (int, error) {
	fd, err := ignoringEINTR(func() (int, error) { return unix.Open(path, flags|unix.O_CLOEXEC, 0) })
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

func ignoringEINTR(fn func() (int, error)) (int, error) {
	for {
		n, err := fn()
		if err != unix.EINTR {
			return n, err
		}
	}
}

// ErrPermission is returned by CheckPrivileges when the process cannot create
// network namespaces.
var ErrPermission = errors.New("vtest needs root, or CAP_NET_ADMIN and CAP_SYS_ADMIN (and CAP_NET_RAW for ICMP checks)")

// CheckPrivileges reports, before anything is created, whether this process
// holds the capabilities vtest needs.
func CheckPrivileges() error {
	var hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	var missing []string
	for _, c := range []struct {
		bit  uint
		name string
	}{{unix.CAP_NET_ADMIN, "CAP_NET_ADMIN"}, {unix.CAP_SYS_ADMIN, "CAP_SYS_ADMIN"}} {
		if !has(c.bit) {
			missing = append(missing, c.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w; missing: %s", ErrPermission, strings.Join(missing, ", "))
	}
	return nil
}
