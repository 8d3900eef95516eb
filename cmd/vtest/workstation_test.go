package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/internal/hostcheck"
)

// TestWorkstationWithSudo plays a developer on a Debian workstation: a
// normal account with sudo rights (Debian's default secure_path), Go only on
// that user's PATH, a fresh copy of the repository in their home. As that
// user it runs make run, sudo make run, the integration tests through
// go test -exec sudo, vtest run as the user and sudo bin/vtest run, and
// then checks that nothing under the home is owned by root.
func TestWorkstationWithSudo(t *testing.T) {
	hostcheck.RequireRoot(t)
	if testing.Short() {
		t.Skip("builds everything as a fresh user: not in -short")
	}
	for _, tool := range []string{"sudo", "useradd", "userdel", "runuser", "make", "git"} {
		if !hasTool(tool) {
			t.Skipf("%s is not installed (make deps installs sudo)", tool)
		}
	}
	goBin := hostcheck.GoTool()
	if !filepath.IsAbs(goBin) {
		t.Skip("no Go toolchain at an absolute path")
	}
	if out, _ := exec.Command("sudo", "-n", "sh", "-c", "command -v go").CombinedOutput(); len(bytes.TrimSpace(out)) > 0 {
		t.Skipf("go is on sudo's secure_path here (%s): the test needs a machine where it is not", bytes.TrimSpace(out))
	}

	name := fmt.Sprintf("vtws%d", os.Getpid()%100000)
	if out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/bash", name).CombinedOutput(); err != nil {
		t.Skipf("useradd: %v: %s", err, out)
	}
	sudoers := "/etc/sudoers.d/" + name
	t.Cleanup(func() {
		exec.Command("pkill", "-KILL", "-u", name).Run()
		os.Remove(sudoers)
		if out, err := exec.Command("userdel", "--remove", name).CombinedOutput(); err != nil {
			t.Errorf("userdel: %v: %s", err, out)
		}
	})
	if err := os.WriteFile(sudoers, []byte(name+" ALL=(ALL:ALL) NOPASSWD: ALL\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	home := u.HomeDir
	repo := filepath.Join(home, "vtest")
	copyTree(t, "../..", repo)
	// A developer who has built Go code before: their module and build
	// caches hold what this machine's have (saves minutes of compiling the
	// standard library; the caches are theirs all the same).
	for _, c := range []struct{ env, to string }{
		{"GOMODCACHE", filepath.Join(home, "go", "pkg", "mod")},
		{"GOCACHE", filepath.Join(home, ".cache", "go-build")},
	} {
		from, err := exec.Command(goBin, "env", c.env).Output()
		if err != nil || len(bytes.TrimSpace(from)) == 0 {
			continue
		}
		os.MkdirAll(filepath.Dir(c.to), 0o755)
		if out, err := exec.Command("cp", "-a", string(bytes.TrimSpace(from)), c.to).CombinedOutput(); err != nil {
			t.Logf("no copy of %s: %v: %s", c.env, err, out)
		}
	}
	if out, err := exec.Command("chown", "-R", name+":"+name, home).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}

	// The user's login environment: Go on their PATH only; the module proxy
	// settings of this machine so the fresh user can download modules.
	userPath := filepath.Dir(goBin) + ":/usr/local/bin:/usr/bin:/bin"
	env := []string{"HOME=" + home, "USER=" + name, "LOGNAME=" + name, "PATH=" + userPath, "LANG=C.UTF-8", "NO_COLOR=1"}
	for _, k := range []string{"GOPROXY", "GONOSUMDB", "GONOSUMCHECK", "GOSUMDB", "GOFLAGS", "GOPRIVATE", "GONOPROXY"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	asUser := func(t *testing.T, timeout time.Duration, script string) string {
		t.Helper()
		cmd := exec.Command("timeout", "-k", "10", fmt.Sprint(int(timeout.Seconds())),
			"runuser", "-u", name, "--", "env", "-i")
		cmd.Args = append(cmd.Args, env...)
		cmd.Args = append(cmd.Args, "bash", "-c", "cd ~/vtest && "+script)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("as %s: %s: %v\n%s", name, script, err, out)
		}
		return string(out)
	}

	for _, step := range []struct{ name, script, want string }{
		{"make run", "make run", "passed"},
		{"sudo make run", "sudo make run", "passed"},
		// One built-in scenario: the workflow is what this tests (make
		// test runs the whole suite).
		{"go test -exec sudo", "go test -exec sudo -count=1 -v -run 'TestBuiltinScenarios/^routed$' ./scenarios/", "--- PASS: TestBuiltinScenarios/routed"},
		// make test's TestUserModule: a module in go test's temporary
		// directory (root's under sudo), built by vtest as this user.
		{"user module under go test -exec sudo", "go test -exec sudo -count=1 -run 'TestUserModule$' ./cmd/vtest/", "ok"},
		{"vtest run as user", "bin/vtest run -run routed scenarios/", "1 passed"},
		{"sudo bin/vtest run", "sudo bin/vtest run -run routed -junit report.xml -capture -capture-dir caps ./scenarios && ls -l report.xml", name},
		{"sudo vtest clean -cache", "sudo bin/vtest clean -cache", "removed " + home},
	} {
		t.Run(step.name, func(t *testing.T) {
			start := time.Now()
			out := asUser(t, 5*time.Minute, step.script)
			if !strings.Contains(out, step.want) {
				t.Errorf("%s: output lacks %q:\n%s", step.script, step.want, out)
			}
			t.Logf("%s: %v", step.script, time.Since(start).Round(time.Millisecond))
		})
	}
	// The documentation's tour as this user: its module beside the copy of
	// the repository, every command of its tour blocks (README.md and
	// docs/), as written (vtest run elevates itself; sudo "$(command -v
	// vtest)" where the text says so).
	t.Run("documentation tour", func(t *testing.T) {
		tr := docTour(t)
		tourDir := filepath.Join(home, "tour")
		tr.write(t, tourDir, repo)
		if out, err := exec.Command("chown", "-R", name+":"+name, tourDir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v: %s", err, out)
		}
		for _, b := range tr.blocks {
			start := time.Now()
			asUser(t, 5*time.Minute, "cd ~/tour/mynet\nexport GOBIN=$HOME/tour/bin PATH=$HOME/tour/bin:$PATH\n"+b.script())
			t.Logf("%s:%d: ok in %v", b.file, b.line, time.Since(start).Round(time.Millisecond))
		}
	})
	out, err := exec.Command("find", home, "-uid", "0").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("root-owned files in %s (find: %v):\n%s", home, err, out)
	}
}

// copyTree copies the files git knows in the repository at src (tracked and
// untracked but not ignored, as a fresh clone of this tree would have) to
// dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	out, err := exec.Command("git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("git ls-files: %v (the test needs the repository)", err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		from := filepath.Join(src, f)
		fi, err := os.Lstat(from)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the work tree
		}
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}
