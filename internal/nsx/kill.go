package nsx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsID identifies a namespace: the inode of its nsfs file (all are on one
// device).
type nsID struct{ ino uint64 }

// KillProcessesIn kills (SIGKILL) every other process whose network
// namespace is one of nss, and returns when none is left, or with an error
// naming the survivors when ctx ends first. It finds them by namespace, not
// by ancestry: a daemon that double-forked and called setsid (parent PID 1,
// its own session and process group) holds the namespace all the same, and
// dies all the same. Processes that fork while it runs are found by the
// next pass over /proc; a killed process counts as gone once it has exited
// (a zombie holds no namespace). ctx must have a deadline.
func KillProcessesIn(ctx context.Context, nss ...netns.NsHandle) error {
	ids := map[nsID]bool{}
	for _, ns := range nss {
		if !ns.IsOpen() {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(ns), &st); err != nil {
			return fmt.Errorf("kill processes in the namespaces: %w", err)
		}
		ids[nsID{st.Ino}] = true
	}
	if len(ids) == 0 {
		return nil
	}
	for {
		pids := processesIn(ids)
		if len(pids) == 0 {
			return nil
		}
		var pidfds []int
		for _, pid := range pids {
			// Through a pidfd, so a PID reused after the scan is not hit:
			// the process is checked again once the pidfd pins it.
			fd, err := unix.PidfdOpen(pid, 0)
			if err != nil {
				if errors.Is(err, unix.ENOSYS) && inNamespace(pid, ids) {
					unix.Kill(pid, unix.SIGKILL) // kernels before 5.3
				}
				continue
			}
			if inNamespace(pid, ids) && unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) == nil {
				pidfds = append(pidfds, fd)
			} else {
				unix.Close(fd)
			}
		}
		err := waitExited(ctx, pidfds)
		for _, fd := range pidfds {
			unix.Close(fd)
		}
		if err != nil || ctx.Err() != nil {
			left := processesIn(ids)
			if len(left) == 0 {
				return nil
			}
			var names []string
			for _, pid := range left {
				names = append(names, describe(pid))
			}
			return fmt.Errorf("processes still alive in the namespaces after SIGKILL: %s: %w", strings.Join(names, ", "), context.Cause(ctx))
		}
	}
}

// processesIn lists the processes, other than this one, whose network
// namespace is one of ids.
func processesIn(ids map[nsID]bool) []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	self := os.Getpid()
	var pids []int
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid == self {
			continue
		}
		if inNamespace(pid, ids) {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

// inNamespace reports whether process pid lives in one of the namespaces
// ids. An exited process (a zombie) lives in none. It reads the link's
// text, "net:[INODE]", which costs the kernel a tenth of a stat through
// the link (no nsfs dentry to find); every namespace is on the one nsfs
// device, so the inode tells them apart.
func inNamespace(pid int, ids map[nsID]bool) bool {
	var buf [64]byte
	n, err := unix.Readlink("/proc/"+strconv.Itoa(pid)+"/ns/net", buf[:])
	if err != nil {
		return false
	}
	s, ok := strings.CutPrefix(string(buf[:n]), "net:[")
	if !ok {
		return false
	}
	ino, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64)
	return err == nil && ids[nsID{ino: ino}]
}

// waitExited waits until every process of pidfds has exited, or ctx ends.
func waitExited(ctx context.Context, pidfds []int) error {
	pending := slices.Clone(pidfds)
	for len(pending) > 0 {
		timeout := -1
		if dl, ok := ctx.Deadline(); ok {
			timeout = max(int(time.Until(dl).Milliseconds()), 0)
		}
		fds := make([]unix.PollFd, len(pending))
		for i, fd := range pending {
			fds[i] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
		}
		n, err := unix.Poll(fds, timeout)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return ctx.Err()
		}
		pending = pending[:0]
		for _, p := range fds {
			if p.Revents == 0 {
				pending = append(pending, int(p.Fd))
			}
		}
	}
	return nil
}

// describe is for error messages: "PID (comm)".
func describe(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return fmt.Sprintf("%d (%s)", pid, strings.TrimSpace(string(b)))
}
