package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/nsx"
)

// Every node's processes (Cmd, StartProcess) and its file helpers
// (Node.WriteFile, Node.ReadFile, the WriteFile step) run in a mount
// namespace of the node's own, like Mininet's privateDirs: a tmpfs over
// /run (pid files and control sockets of daemons do not collide across
// nodes), an /etc/hosts naming the scenario's nodes, the host name set to
// the node's name, and a tmpfs over each PrivateDir. Nothing of it is
// seen on the host, and it dies with the node's process thread and
// processes at teardown.
const privateRun = "/run"

// hostsPath is the file every node gets a private copy of.
const hostsPath = "/etc/hosts"

// PrivateDir gives the node's processes a private, empty directory at
// path (a tmpfs mounted over it in the node's own mount namespace), for
// a daemon's configuration or state: PrivateDir("/etc/bird") lets every
// node run bird with its own /etc/bird/bird.conf. path must be an
// existing directory of the host, or lie under /run (always private) or
// under another PrivateDir of the node, where it is created. Write files
// into it with the WriteFile step or Node.WriteFile.
func (n *NodeSpec) PrivateDir(path string) *NodeSpec {
	n.private = append(n.private, path)
	return n
}

// PrivateDirs returns the paths PrivateDir made private, in order.
func (n *NodeSpec) PrivateDirs() []string { return n.private }

// under reports whether path is dir or lies under it.
func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// creatable reports whether a private directory at path is created by
// vtest (under the private /run or under an earlier private directory)
// rather than mounted over a directory of the host.
func creatable(path string, dirs []string) bool {
	if under(path, privateRun) {
		return true
	}
	return slices.ContainsFunc(dirs, func(d string) bool { return d != path && under(path, d) })
}

// privateDirs validates the PrivateDir paths of every node.
func (v *validator) privateDirs(p *plan) {
	for _, pn := range p.nodes {
		seen := map[string]bool{}
		for _, path := range pn.spec.private {
			obj := fmt.Sprintf("node %q: private directory %q", pn.spec.name, path)
			switch {
			case !filepath.IsAbs(path) || filepath.Clean(path) != path:
				v.add(obj, "is not a clean absolute path", "write it like /etc/bird")
				continue
			case path == "/":
				v.add(obj, "would hide the whole file system", "name the directory the daemon uses, like /etc/bird")
				continue
			case path == privateRun:
				v.add(obj, "is private on every node already", "remove it")
				continue
			case path == hostsPath:
				v.add(obj, "is a file, private on every node already (it names the scenario's nodes)", "remove it; write it with WriteFile to change it")
				continue
			case under(path, "/proc") || under(path, "/sys") || under(path, "/dev"):
				v.add(obj, "is a kernel file system", "use a directory of the daemon's own")
				continue
			case seen[path]:
				v.add(obj, "is given twice", "remove one")
				continue
			}
			seen[path] = true
			if creatable(path, pn.spec.private) {
				continue
			}
			if st, err := os.Stat(path); err != nil || !st.IsDir() {
				v.add(obj, "is not a directory of the host (a private directory is mounted over an existing one; vtest creates directories only under /run and under other private directories)",
					"create it on the host, or use a path under /run")
			}
		}
	}
}

// inPrivate reports whether a file at path is in the node's private files:
// under /run, /etc/hosts, or under a private directory.
func inPrivate(path string, dirs []string) bool {
	if path == hostsPath || (under(path, privateRun) && path != privateRun) {
		return true
	}
	return slices.ContainsFunc(dirs, func(d string) bool { return under(path, d) && path != d })
}

// privateProblem says why path cannot be written as a node's private
// file, or returns "".
func privateProblem(path string, dirs []string) string {
	switch {
	case !filepath.IsAbs(path) || filepath.Clean(path) != path:
		return "is not a clean absolute path"
	case !inPrivate(path, dirs):
		return "is outside the node's private files (/run, /etc/hosts, its PrivateDirs): writing it would change the host's file"
	}
	return ""
}

// privateDirsOf returns the node's private directories, parents first.
func (nd *Node) privateDirsOf() []string {
	if nd.net == nil || nd.net.plan == nil {
		return nil
	}
	pn := nd.net.plan.node(nd.name)
	if pn == nil {
		return nil
	}
	dirs := slices.Clone(pn.spec.private)
	slices.SortStableFunc(dirs, func(a, b string) int { return len(a) - len(b) })
	return dirs
}

// hostsFile renders /etc/hosts for the nodes: loopback names, then each
// node's first IPv4 and IPv6 address under its name.
func (n *Network) hostsFile() []byte {
	var b bytes.Buffer
	b.WriteString("# written by vtest for scenario " + n.spec.Name + "\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, nd := range n.order {
		for _, a := range []netip.Addr{nd.IPv4(), nd.IPv6()} {
			if a.IsValid() {
				fmt.Fprintf(&b, "%s\t%s\n", a, nd.name)
			}
		}
	}
	return b.Bytes()
}

// processThread starts, once, the node's thread for processes and file
// helpers, in the node's network namespace and a mount (and UTS)
// namespace of its own. Call it with nd.mu held.
func (nd *Node) processThread() error {
	if nd.closed {
		return fmt.Errorf("node %q: network is closed", nd.name)
	}
	if nd.thread != nil {
		return nil
	}
	var hosts []byte
	if nd.net != nil {
		hosts = nd.net.hostsFile()
	}
	t, err := nsx.NewThreadWith(nd.ns, privateSetup(nd.name, hosts, nd.privateDirsOf()))
	if err != nil {
		return fmt.Errorf("node %q: start process thread: %w", nd.name, err)
	}
	nd.thread = t
	return nil
}

// privateSetup makes the calling thread's private files (see privateRun).
func privateSetup(name string, hosts []byte, dirs []string) func() error {
	return func() error {
		fail := func(what string, err error) error { return fmt.Errorf("private files: %s: %w", what, err) }
		if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_NEWUTS); err != nil {
			return fail("unshare the mount namespace", err)
		}
		// Nothing mounted from here on may propagate to the host.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fail("make / private", err)
		}
		if len(name) <= 64 {
			if err := unix.Sethostname([]byte(name)); err != nil {
				return fail("set the host name", err)
			}
		}
		// A minimal root (a VM's initramfs) may lack /run or /etc/hosts:
		// nothing is created on the host's file system to mount over.
		if st, err := os.Stat(privateRun); err != nil || !st.IsDir() {
			return fail("mount a tmpfs on /run", fmt.Errorf("the host has no directory %s", privateRun))
		}
		if err := unix.Mount("tmpfs", privateRun, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=64m"); err != nil {
			return fail("mount a tmpfs on /run", err)
		}
		if err := os.MkdirAll("/run/vtest", 0o755); err != nil {
			return fail("create /run/vtest", err)
		}
		if err := os.WriteFile("/run/vtest/hosts", hosts, 0o644); err != nil {
			return fail("write /run/vtest/hosts", err)
		}
		if _, err := os.Stat(hostsPath); err == nil {
			if err := unix.Mount("/run/vtest/hosts", hostsPath, "", unix.MS_BIND, ""); err != nil {
				return fail("bind the scenario's hosts over /etc/hosts", err)
			}
		}
		for i, d := range dirs {
			if creatable(d, dirs[:i+1]) {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return fail("create "+d, err)
				}
			}
			if err := unix.Mount("tmpfs", d, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=64m"); err != nil {
				return fail("mount a tmpfs on "+d, err)
			}
		}
		return nil
	}
}

// onThread runs fn on the node's process thread, in its private files.
func (nd *Node) onThread(fn func() error) error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if err := nd.processThread(); err != nil {
		return err
	}
	return nd.thread.Do(fn)
}

// WriteFile writes a file of the node's private files, as its processes
// see them: under /run, /etc/hosts, or under one of its PrivateDirs
// (parents are created). Any other path is refused: it would be the
// host's file. Symbolic links are not followed.
func (nd *Node) WriteFile(path string, data []byte, perm os.FileMode) error {
	if p := privateProblem(path, nd.privateDirsOf()); p != "" {
		return fmt.Errorf("node %q: write %s: %s", nd.name, path, p)
	}
	err := nd.onThread(func() error {
		if err := mkdirNoFollow(filepath.Dir(path)); err != nil {
			return err
		}
		fd, err := unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{
			Flags:   unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_CLOEXEC,
			Mode:    uint64(perm.Perm()),
			Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return &os.PathError{Op: "open", Path: path, Err: err}
		}
		f := os.NewFile(uintptr(fd), path)
		_, err = f.Write(data)
		return errors.Join(err, f.Close())
	})
	if err != nil {
		return fmt.Errorf("node %q: write %s: %w", nd.name, path, err)
	}
	return nil
}

// mkdirNoFollow creates dir and its parents, refusing symbolic links on
// the way (a process of the node could have planted one to the host).
func mkdirNoFollow(dir string) error {
	cur := "/"
	for _, elem := range strings.Split(strings.TrimPrefix(dir, "/"), "/") {
		if elem == "" {
			continue
		}
		cur = filepath.Join(cur, elem)
		st, err := os.Lstat(cur)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
		case err != nil:
			return err
		case st.Mode()&os.ModeSymlink != 0:
			return fmt.Errorf("%s is a symbolic link: not followed", cur)
		case !st.IsDir():
			return fmt.Errorf("%s is not a directory", cur)
		}
	}
	return nil
}

// ReadFile reads a file as the node's processes see it: its private files
// (/run, /etc/hosts, its PrivateDirs), the host's elsewhere.
func (nd *Node) ReadFile(path string) ([]byte, error) {
	var b []byte
	err := nd.onThread(func() (err error) {
		b, err = os.ReadFile(path)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("node %q: read %s: %w", nd.name, path, err)
	}
	return b, nil
}

// WriteFile writes content to a file of a node's private files (mode
// 0644); see Node.WriteFile. Validate refuses a path outside them.
func WriteFile(node, path, content string) Action { return writeFile{node, path, content} }

type writeFile struct{ node, path, content string }

func (a writeFile) String() string {
	return fmt.Sprintf("write %s on %s (%d bytes)", a.path, a.node, len(a.content))
}

func (a writeFile) validate(v *validator, p *plan, obj string) {
	pn := v.node(p, obj, a.node)
	if pn == nil {
		return
	}
	if prob := privateProblem(a.path, pn.spec.private); prob != "" {
		v.add(obj, "file %q %s", "write under /run, /etc/hosts, or a directory the node makes private with PrivateDir", a.path, prob)
	}
}

func (a writeFile) Run(ctx context.Context, n *Network) error {
	nd, ok := n.Lookup(a.node)
	if !ok {
		return fmt.Errorf("%s: no node %q", a, a.node)
	}
	return nd.WriteFile(a.path, []byte(a.content), 0o644)
}
