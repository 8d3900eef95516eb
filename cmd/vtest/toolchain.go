package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/vtest-dev/vtest/internal/invoker"
)

// goTool runs the Go toolchain as the user who asked for the run: under
// sudo that is the invoking user (SUDO_UID), with their HOME, so their
// module and build caches stay theirs and nothing root-owned lands in them.
type goTool struct {
	path string
	// user, when set, is who the go command runs as (vtest runs as root
	// under sudo).
	user *invoker.User
	// userPath is the invoking user's PATH, when it could be found.
	userPath string
	// workDir, when set, is the go command's GOTMPDIR.
	workDir string
}

// findGoTool locates the Go toolchain: VTEST_GO, then PATH, $GOROOT/bin,
// the invoking user's PATH (sudo resets PATH to its secure_path), the
// toolchain vtest was built with, and where the Go installer and Debian put
// it.
func findGoTool() (*goTool, error) {
	t := &goTool{}
	if u, ok := invoker.FromSudo(); ok {
		t.user = &u
		t.userPath = invokerPATH(u.UID)
	}
	if p := os.Getenv("VTEST_GO"); p != "" {
		if !isExecutable(p) {
			return nil, fmt.Errorf("VTEST_GO=%s is not an executable file (fix: point VTEST_GO at the go command, e.g. /usr/local/go/bin/go)", p)
		}
		t.path = p
		return t, nil
	}
	var tried []string
	try := func(p string) bool {
		if p == "" {
			return false
		}
		tried = append(tried, p)
		if isExecutable(p) {
			t.path = p
			return true
		}
		return false
	}
	if p, err := exec.LookPath("go"); err == nil && try(p) {
		return t, nil
	}
	tried = append(tried, "go in PATH="+os.Getenv("PATH"))
	if g := os.Getenv("GOROOT"); g != "" && try(filepath.Join(g, "bin", "go")) {
		return t, nil
	}
	for _, dir := range filepath.SplitList(t.userPath) {
		if dir != "" && filepath.IsAbs(dir) && try(filepath.Join(dir, "go")) {
			return t, nil
		}
	}
	//lint:ignore SA1019 the toolchain vtest was built with is a good guess.
	if g := runtime.GOROOT(); g != "" && try(filepath.Join(g, "bin", "go")) {
		return t, nil
	}
	for _, p := range []string{"/usr/local/go/bin/go", "/usr/lib/go/bin/go"} {
		if try(p) {
			return t, nil
		}
	}
	return nil, fmt.Errorf("cannot find the Go toolchain, which vtest needs to build the suite (looked at: %s)\n"+
		"fix: install Go (https://go.dev/doc/install), or name it with VTEST_GO=/path/to/go, "+
		"or keep your PATH through sudo: sudo env PATH=\"$PATH\" vtest ...; "+
		"or build the suite once with vtest build -o FILE and run FILE", strings.Join(tried, ", "))
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// invokerPATH finds the PATH of the user behind sudo in the environment of
// the nearest ancestor process that runs as that user (typically their
// shell), since sudo replaces PATH with its secure_path.
func invokerPATH(uid int) string {
	for pid := os.Getppid(); pid > 1; {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return ""
		}
		var ppid, ruid int = -1, -1
		for _, line := range strings.Split(string(status), "\n") {
			k, v, _ := strings.Cut(line, ":")
			f := strings.Fields(v)
			if len(f) == 0 {
				continue
			}
			switch k {
			case "PPid":
				ppid, _ = strconv.Atoi(f[0])
			case "Uid":
				ruid, _ = strconv.Atoi(f[0])
			}
		}
		if ruid == uid {
			env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			if err == nil {
				for _, kv := range bytes.Split(env, []byte{0}) {
					if v, ok := bytes.CutPrefix(kv, []byte("PATH=")); ok {
						return string(v)
					}
				}
			}
		}
		if ppid <= 1 || ppid == pid {
			return ""
		}
		pid = ppid
	}
	return ""
}

// command returns the go command with args, run as the invoking user when
// vtest runs under sudo.
func (t *goTool) command(args ...string) *exec.Cmd {
	cmd := exec.Command(t.path, args...)
	env := os.Environ()
	pathDirs := filepath.Dir(t.path) + string(filepath.ListSeparator) + os.Getenv("PATH")
	if t.user != nil {
		u := t.user
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: u.Groups}}
		// Go derives GOPATH, GOMODCACHE, GOCACHE and its config from HOME
		// (and XDG_*); settings that point outside the user's home were
		// root's and are dropped.
		var kept []string
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "HOME", "USER", "LOGNAME", "PATH":
				continue
			case "GOPATH", "GOMODCACHE", "GOCACHE", "GOENV", "XDG_CACHE_HOME", "XDG_CONFIG_HOME":
				if u.Home == "" || !within(v, u.Home) {
					continue
				}
			}
			kept = append(kept, kv)
		}
		env = append(kept, "HOME="+u.Home, "USER="+u.Name, "LOGNAME="+u.Name)
		if t.userPath != "" {
			pathDirs = filepath.Dir(t.path) + string(filepath.ListSeparator) + t.userPath
		}
	}
	cmd.Env = append(env, "PATH="+pathDirs)
	if t.workDir != "" {
		cmd.Env = append(cmd.Env, "GOTMPDIR="+t.workDir)
	}
	// If vtest dies (SIGKILL), the go command gets SIGINT, on which it
	// stops and removes its work directory.
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGINT
	return cmd
}

// runTool runs a command of the goTool, keeping the thread that started it
// until it exits: the parent-death signal comes when that thread ends.
func runTool(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.Run()
}

// output runs the go command and returns its standard output; a failure
// carries the command's own words (or says that it could not start).
func (t *goTool) output(dir string, args ...string) ([]byte, error) {
	cmd := t.command(args...)
	cmd.Dir = dir
	var out, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errBuf
	if err := runTool(cmd); err != nil {
		if why := t.unreadable(dir); why != "" {
			return out.Bytes(), fmt.Errorf("%s: %w", why, toolError(cmd, err, errBuf.String()))
		}
		return out.Bytes(), toolError(cmd, err, errBuf.String())
	}
	return out.Bytes(), nil
}

// unreadable explains, when the go command runs as the user behind sudo
// and that user's permissions keep them out of dir (or one of the
// directories above it), which directory it is and how to fix it; "" when
// the permission bits let them in. (A go command that cannot enter its
// working directory fails as "fork/exec …/go: permission denied", which
// blames Go.)
func (t *goTool) unreadable(dir string) string {
	if t.user == nil {
		return ""
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	u := t.user
	var parts []string
	for d := abs; ; d = filepath.Dir(d) {
		parts = append(parts, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(parts) - 1; i >= 0; i-- {
		d := parts[i]
		fi, err := os.Stat(d)
		if err != nil {
			return ""
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return ""
		}
		need := os.FileMode(0o1) // enter
		what := "enter"
		if i == 0 {
			need, what = 0o5, "read"
		}
		var perm os.FileMode
		switch {
		case int(st.Uid) == u.UID:
			perm = fi.Mode().Perm() >> 6
		case int(st.Gid) == u.GID || slices.Contains(u.Groups, st.Gid):
			perm = fi.Mode().Perm() >> 3
		default:
			perm = fi.Mode().Perm()
		}
		if perm&need != need {
			return fmt.Sprintf("vtest builds the suite as %s (uid %d, the user who ran sudo), who cannot %s %s (owner uid %d, mode %v) "+
				"(fix: keep the module where %s can read it, e.g. chmod o+rx %s, or build as root: sudo env -u SUDO_UID vtest ...)",
				u.Name, u.UID, what, d, st.Uid, fi.Mode().Perm(), u.Name, d)
		}
	}
	return ""
}

// toolError describes a failed tool invocation with the tool's own output,
// never an empty message after a colon.
func toolError(cmd *exec.Cmd, err error, output string) error {
	name := filepath.Base(cmd.Path) + " " + strings.Join(cmd.Args[1:], " ")
	output = strings.TrimSpace(output)
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && output != "":
		return fmt.Errorf("%s: %s", name, output)
	case errors.As(err, &ee):
		return fmt.Errorf("%s: %v (it printed nothing)", name, err)
	case output != "":
		return fmt.Errorf("%s: %v: %s", name, err, output)
	}
	return fmt.Errorf("%s: %v", name, err)
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && filepath.IsAbs(path)
}

// chownToUser gives a directory vtest created for the go command to the
// user it runs as.
func (t *goTool) chownToUser(path string) error {
	if t.user == nil {
		return nil
	}
	return os.Chown(path, t.user.UID, t.user.GID)
}
