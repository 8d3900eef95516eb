package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/internal/hostcheck"
)

// These tests attack vtest as another local user would, on a machine where
// vtest runs suites as root for a normal user (sudo): each plants or swaps
// files, then shows that root ran nothing of theirs and that the file
// they aimed at (a root-only file) is untouched.

const untouched = "untouched\n"

// rootTarget makes the file the attacks aim at: root's own, in a directory
// only root may enter.
func rootTarget(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte(untouched), 0o600); err != nil {
		t.Fatal(err)
	}
	return target
}

// intact says whether target still holds what rootTarget wrote, and puts
// that back when it does not.
func intact(t *testing.T, target string) bool {
	t.Helper()
	b, err := os.ReadFile(target)
	if err == nil && string(b) == untouched {
		return true
	}
	t.Logf("target: %q (%v)", b, err)
	os.WriteFile(target, []byte(untouched), 0o600)
	return false
}

// attackStubs builds the stand-ins of testdata/attack, in a directory every
// user may read: the user's suite (exits 0), and the attacker's binary,
// which overwrites target when root runs it and also runs the swapping
// loop.
func attackStubs(t *testing.T, target string) (suite, evil string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "vtest-attack-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	suite, evil = filepath.Join(dir, "suite"), filepath.Join(dir, "evil")
	for _, b := range []struct{ out, ldflags string }{{suite, ""}, {evil, "-X main.target=" + target}} {
		cmd := exec.Command(hostcheck.GoTool(), "build", "-o", b.out, "-ldflags", b.ldflags, "./testdata/attack")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build the attack stub: %v\n%s", err, out)
		}
	}
	return suite, evil
}

// victimModule writes a module of owner's with one (empty) package, whose
// suite the test puts in the cache by hand: vtest computes its key with
// the go command as usual, and no build can succeed (it has no vtest
// dependency and GOPROXY is off), so a run that does not take the cached
// binary ends in a build error.
func victimModule(t *testing.T, owner *hostcheck.LocalUser, dir string) string {
	t.Helper()
	mod := filepath.Join(dir, "suite")
	files := map[string]string{"go.mod": "module example.com/victim\n\ngo 1.26\n", "p/p.go": "package p\n"}
	for name, body := range files {
		p := filepath.Join(mod, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if owner != nil {
		if out, err := exec.Command("chown", "-R", owner.Name+":", mod).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v: %s", err, out)
		}
	}
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOTOOLCHAIN", "local")
	t.Setenv("GOFLAGS", "-mod=mod")
	return filepath.Join(mod, "p")
}

// cacheKeyOf is the key vtest caches pkg's suite under.
func cacheKeyOf(t *testing.T, pkg string) string {
	t.Helper()
	gt, err := findGoTool()
	if err != nil {
		t.Fatal(err)
	}
	key, _, _, err := suiteKey(gt, []string{pkg}, false)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// vtestRun runs vtest run pkg in this process (root, and the user behind
// sudo as the test set it) and returns its exit code and stderr.
func vtestRun(pkg string) (int, string) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", pkg}, &stdout, &stderr)
	return code, stderr.String()
}

// race runs vtest runs times while attacker swaps the directories a and b
// in a loop, and returns how many runs ran the attacker's binary (target
// changed) and the exit codes seen. Before each run the loop is paused and
// refill puts back what the previous run removed (vtest deletes a cached
// suite it distrusts): each run meets the same attack.
func race(t *testing.T, attacker *hostcheck.LocalUser, evil, a, b string, runs int, pkg, target string, refill func()) (pwned int, codes map[int]int) {
	t.Helper()
	loop := attacker.Command(evil, "exchange", a, b)
	if err := loop.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { loop.Process.Kill(); loop.Wait() }()
	codes = map[int]int{}
	for range runs {
		pause(t, loop.Process.Pid)
		refill()
		loop.Process.Signal(syscall.SIGCONT)
		code, stderr := vtestRun(pkg)
		codes[code]++
		if !intact(t, target) {
			pwned++
			t.Logf("root ran the attacker's binary (exit %d): %s", code, stderr)
		}
	}
	return pwned, codes
}

// pause stops the process pid and waits until it has stopped.
func pause(t *testing.T, pid int) {
	t.Helper()
	syscall.Kill(pid, syscall.SIGSTOP)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 0 && f[0] == "T" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not stop", pid)
		}
		time.Sleep(time.Millisecond) // polling a condition with a deadline
	}
}

// refillFunc returns a refill for race: in each of the directories dirs,
// whoever owns it (the user, root, or the attacker) puts their binary back
// under key if it is gone.
func refillFunc(t *testing.T, key string, dirs []string, binOf func(uid int) (bin string, as *hostcheck.LocalUser)) func() {
	return func() {
		for _, d := range dirs {
			p := filepath.Join(d, key)
			if _, err := os.Lstat(p); err == nil {
				continue
			}
			bin, as := binOf(fileUID(t, d))
			if as == nil {
				exec.Command("cp", bin, p).Run()
				continue
			}
			as.Run(t, "cp", bin, p)
		}
	}
}

// TestAttackCacheSwap: another member of the user's group, with
// ~/.cache/vtest group-writable, swaps the suite cache for a directory of
// theirs (rename-exchange in a loop) while the user runs sudo vtest run.
// Root must never run their binary: vtest opens every directory of the
// cache path without following links and checks each (here it refuses the
// group-writable one), and runs the binary it opened and checked through
// its descriptor. The healthy twin (~/.cache/vtest not group-writable, no
// attacker) runs the cached suite.
func TestAttackCacheSwap(t *testing.T) {
	victim := hostcheck.NewLocalUser(t, "victim")
	attacker := hostcheck.NewLocalUser(t, "attack", victim.Name)
	target := rootTarget(t)
	suite, evil := attackStubs(t, target)
	victim.Run(t, "chmod", "750", victim.Home)
	pkg := victimModule(t, victim, victim.Home)
	victim.BehindSudo(t)
	key := cacheKeyOf(t, pkg)
	cache := filepath.Join(victim.Home, ".cache", "vtest")

	victim.Run(t, "mkdir", "-p", filepath.Join(cache, "suites"))
	victim.Run(t, "cp", suite, filepath.Join(cache, "suites", key))
	victim.Run(t, "chmod", "775", cache) // the setting the attack needs
	attacker.Run(t, "mkdir", filepath.Join(cache, "evil"))
	attacker.Run(t, "cp", evil, filepath.Join(cache, "evil", key))
	const runs = 20
	a, b := filepath.Join(cache, "suites"), filepath.Join(cache, "evil")
	refill := refillFunc(t, key, []string{a, b}, func(uid int) (string, *hostcheck.LocalUser) {
		if uid == attacker.UID {
			return evil, attacker
		}
		return suite, victim
	})
	pwned, codes := race(t, attacker, evil, a, b, runs, pkg, target, refill)
	t.Logf("%d runs under attack: root ran the attacker's binary in %d; exit codes %v", runs, pwned, codes)
	if pwned > 0 {
		t.Errorf("root ran the attacker's binary in %d of %d runs", pwned, runs)
	}
	if _, stderr := vtestRun(pkg); !strings.Contains(stderr, "not using the suite cache") || !strings.Contains(stderr, "writable by group or others") {
		t.Errorf("vtest did not say why it refused the cache:\n%s", stderr)
	}

	// The healthy twin: the same cache, as vtest makes it.
	os.RemoveAll(cache)
	victim.Run(t, "mkdir", "-p", filepath.Join(cache, "suites"))
	victim.Run(t, "cp", suite, filepath.Join(cache, "suites", key))
	if code, stderr := vtestRun(pkg); code != 0 {
		t.Errorf("the cached suite did not run: exit %d\n%s", code, stderr)
	}
	if !intact(t, target) {
		t.Errorf("the target changed without an attacker")
	}
}

// TestAttackSharedFallbackCache: with HOME unset, vtest used to cache in
// /tmp/vtest-cache-<euid>, a name anyone can take first. Another user
// creates it; root (no HOME) runs vtest. vtest must neither make nor use
// anything there, also while the attacker swaps a tree of theirs in.
func TestAttackSharedFallbackCache(t *testing.T) {
	attacker := hostcheck.NewLocalUser(t, "attack")
	target := rootTarget(t)
	suite, evil := attackStubs(t, target)
	shared := filepath.Join(os.TempDir(), fmt.Sprintf("vtest-cache-%d", os.Geteuid()))
	if _, err := os.Lstat(shared); err == nil {
		t.Skipf("%s exists already: the test needs to be the one who makes it", shared)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	pkg := victimModule(t, nil, t.TempDir())
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		out, err := exec.Command(hostcheck.GoTool(), "env", k).Output()
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv(k, strings.TrimSpace(string(out)))
	}
	for _, k := range []string{"HOME", "XDG_CACHE_HOME", "SUDO_UID", "SUDO_GID", "SUDO_USER"} {
		t.Setenv(k, "")
	}
	key := cacheKeyOf(t, pkg)

	attacker.Run(t, "mkdir", "-m", "777", shared)
	code, stderr := vtestRun(pkg)
	t.Logf("exit %d: %s", code, stderr)
	if ents, _ := os.ReadDir(shared); len(ents) > 0 {
		t.Errorf("vtest made %v in the other user's %s", ents, shared)
	}
	if !strings.Contains(stderr, "no suite cache") {
		t.Errorf("vtest did not say that it has no cache:\n%s", stderr)
	}

	// An earlier run of root's left a suite there; the attacker swaps
	// their own tree in and out.
	os.RemoveAll(filepath.Join(shared, "vtest"))
	os.MkdirAll(filepath.Join(shared, "vtest", "suites"), 0o755)
	exec.Command("cp", suite, filepath.Join(shared, "vtest", "suites", key)).Run()
	attacker.Run(t, "mkdir", "-p", filepath.Join(shared, "evil", "suites"))
	attacker.Run(t, "cp", evil, filepath.Join(shared, "evil", "suites", key))
	const runs = 20
	a, b := filepath.Join(shared, "vtest"), filepath.Join(shared, "evil")
	refill := refillFunc(t, key, []string{filepath.Join(a, "suites"), filepath.Join(b, "suites")}, func(uid int) (string, *hostcheck.LocalUser) {
		if uid == attacker.UID {
			return evil, attacker
		}
		return suite, nil
	})
	pwned, codes := race(t, attacker, evil, a, b, runs, pkg, target, refill)
	t.Logf("%d runs under attack: root ran the attacker's binary in %d; exit codes %v", runs, pwned, codes)
	if pwned > 0 {
		t.Errorf("root ran the attacker's binary in %d of %d runs", pwned, runs)
	}
}

// TestAttackCacheSymlinkIntoRoot: the user behind sudo makes ~/.cache a
// link to a directory of root's. Running as root, vtest must not follow it:
// no directory made there, none given to the user.
func TestAttackCacheSymlinkIntoRoot(t *testing.T) {
	victim := hostcheck.NewLocalUser(t, "victim")
	rootDir := t.TempDir()
	os.Chmod(rootDir, 0o755)
	pkg := victimModule(t, victim, victim.Home)
	victim.Run(t, "ln", "-s", rootDir, filepath.Join(victim.Home, ".cache"))
	victim.BehindSudo(t)
	code, stderr := vtestRun(pkg)
	t.Logf("exit %d: %s", code, stderr)
	out, _ := exec.Command("find", rootDir, "-mindepth", "1", "-printf", "%p %u\n").Output()
	if len(out) > 0 {
		t.Errorf("vtest followed ~/.cache into root's directory and made:\n%s", out)
	}
	if !strings.Contains(stderr, "symbolic link") {
		t.Errorf("vtest did not say why it refused the cache:\n%s", stderr)
	}
}

// TestAttackKernelJUnitSymlink: vtest kernel -junit writes into a
// directory the user shares with their group; another member plants a
// link to a root-only file at the report's name. vtest writes a new file
// in its place, given to the user (the directory is theirs).
func TestAttackKernelJUnitSymlink(t *testing.T) {
	victim := hostcheck.NewLocalUser(t, "victim")
	attacker := hostcheck.NewLocalUser(t, "attack", victim.Name)
	target := rootTarget(t)
	shared := filepath.Join(victim.Home, "shared")
	victim.Run(t, "chmod", "750", victim.Home)
	victim.Run(t, "mkdir", "-m", "775", shared)
	report := filepath.Join(shared, "kernel.xml")
	attacker.Run(t, "ln", "-s", target, report)
	victim.BehindSudo(t)
	if err := writeJUnit(report, []byte("<testsuites/>\n")); err != nil {
		t.Logf("writeJUnit: %v", err)
	}
	if !intact(t, target) {
		t.Errorf("vtest kernel -junit wrote through the planted link")
	}
	fi, err := os.Lstat(report)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("no report at %s: %v %v", report, fi, err)
	}
	if uid := fileUID(t, report); uid != victim.UID {
		t.Errorf("report owned by uid %d, want the user's %d", uid, victim.UID)
	}
}

func fileUID(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

// TestSuiteRunsTheFileItChecked: vtest runs the suite binary it opened and
// checked, through its descriptor, directly and after an -exec prefix:
// replacing the file at its path after the check (as anyone able to write
// there could) changes nothing.
func TestSuiteRunsTheFileItChecked(t *testing.T) {
	hostcheck.RequireRoot(t)
	target := rootTarget(t)
	suite, evil := attackStubs(t, target)
	prefixes := [][]string{nil, {"env"}}
	if _, err := exec.LookPath("sudo"); err == nil {
		prefixes = append(prefixes, []string{"sudo", "-n"})
	}
	for _, prefix := range prefixes {
		dir := t.TempDir()
		path := filepath.Join(dir, "suite")
		exec.Command("cp", suite, path).Run()
		d, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		exe, err := openSuite(d, "suite")
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
		exec.Command("cp", evil, path+".new").Run()
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		code := execSuite(exe.command(prefix), nil, io.Discard, &stderr)
		exe.f.Close()
		if code != 0 || !intact(t, target) {
			t.Errorf("prefix %q: exit %d, target intact %v: ran the file now at the path, not the one checked\n%s", prefix, code, intact(t, target), stderr.String())
		}
	}
}
