package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/internal/hostcheck"
)

// buildEnv is the environment of a vtest that builds into a suite cache of
// its own (under cacheHome) with the usual Go build cache, and whose go
// command keeps its work directories in goTmp.
// rootEnv is the test's environment without sudo's SUDO_* variables:
// these tests build in t.TempDir (root's, mode 0700, under go test -exec
// sudo), so vtest must build as root, not as the invoking user, who cannot
// enter it. Building as the invoking user is TestWorkstationWithSudo's.
func rootEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SUDO_") {
			env = append(env, kv)
		}
	}
	return env
}

func buildEnv(t *testing.T, cacheHome, goTmp string) []string {
	t.Helper()
	gocache, err := exec.Command(hostcheck.GoTool(), "env", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOCACHE: %v", err)
	}
	return append(rootEnv(), "NO_COLOR=1", "XDG_CACHE_HOME="+cacheHome,
		"GOCACHE="+strings.TrimSpace(string(gocache)), "GOTMPDIR="+goTmp)
}

// TestBuildWithTMPDIROnAnotherFileSystem builds an uncached suite with
// TMPDIR on a tmpfs (the default /tmp of Debian 13, Fedora, Arch) and the
// suite cache elsewhere: the build must not end in "invalid cross-device
// link". The tmpfs is mounted in a private mount namespace, so nothing
// outside the test sees it.
func TestBuildWithTMPDIROnAnotherFileSystem(t *testing.T) {
	hostcheck.RequireRoot(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	dir := t.TempDir()
	cacheHome, goTmp, tmpfs := filepath.Join(dir, "cache"), filepath.Join(dir, "gotmp"), filepath.Join(dir, "tmpfs")
	for _, d := range []string{cacheHome, goTmp, tmpfs} {
		os.Mkdir(d, 0o755)
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs -o size=512m vtest-test "$1" && shift && exec "$@"`, "sh", tmpfs,
		"env", "TMPDIR="+tmpfs, vtestBin, "list", "./testdata/failing")
	cmd.Env = buildEnv(t, cacheHome, goTmp)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vtest list with TMPDIR on a tmpfs: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("slow")) {
		t.Errorf("no scenario listed:\n%s", out)
	}
	suites, _ := filepath.Glob(filepath.Join(cacheHome, "vtest", "suites", "*"))
	if len(suites) != 1 {
		t.Errorf("suite cache holds %v, want the one suite", suites)
	}
}

// TestKilledBuildIsRemoved kills vtest with SIGKILL while the go command
// builds the suite: the go command stops and removes its work directory,
// and the build directory left behind (with the binary, when the kill
// comes during the link) is removed by the next build, with the event
// stream of a vtest run killed after its build.
func TestKilledBuildIsRemoved(t *testing.T) {
	hostcheck.RequireRoot(t) // a slow test: two uncached builds
	dir := t.TempDir()
	cacheHome, goTmp, tmp := filepath.Join(dir, "cache"), filepath.Join(dir, "gotmp"), filepath.Join(dir, "tmp")
	os.Mkdir(goTmp, 0o755)
	os.Mkdir(tmp, 0o755)
	env := append(buildEnv(t, cacheHome, goTmp), "TMPDIR="+tmp)
	suites := filepath.Join(cacheHome, "vtest", "suites")

	cmd := exec.Command(vtestBin, "list", "./testdata/failing")
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	goPID := 0
	deadline := time.Now().Add(2 * time.Minute)
	for goPID == 0 {
		goPID = childRunning(cmd.Process.Pid, "go", "build")
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("vtest never ran go build:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond) // polling /proc, with a deadline
	}
	// The go command builds: let it work for a moment, then kill.
	time.Sleep(500 * time.Millisecond)
	cl, _ := os.ReadFile("/proc/" + strconv.Itoa(goPID) + "/cmdline")
	t.Logf("killing vtest while %d runs %q", goPID, cl)
	cmd.Process.Kill()
	cmd.Wait()
	for deadline := time.Now().Add(30 * time.Second); syscall.Kill(goPID, 0) == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("go build %d still runs 30 s after vtest was killed", goPID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if left, _ := os.ReadDir(goTmp); len(left) > 0 {
		t.Errorf("the go command wrote to the GOTMPDIR of the user: %v", left)
	}
	stale, _ := filepath.Glob(filepath.Join(suites, cacheBuildPrefix+"*"))
	work, _ := filepath.Glob(filepath.Join(tmp, goWorkPrefix+"*"))
	stale = append(stale, work...)
	if len(work) != 1 {
		t.Fatalf("after the kill TMPDIR holds %v, want the killed vtest's go work directory", work)
	}

	// What a vtest run killed after its build leaves: the event stream
	// of its crash watch, held by no one.
	events := filepath.Join(tmp, "vtest-events-killed")
	if err := os.Mkdir(events, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(events, "events.jsonl"), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stale = append(stale, events)

	next := exec.Command(vtestBin, "list", "./testdata/failing")
	next.Env = env
	if b, err := next.CombinedOutput(); err != nil {
		t.Fatalf("the next vtest list: %v\n%s", err, b)
	}
	for _, p := range stale {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("the next build left the killed build's %s", p)
		}
	}
	left, _ := filepath.Glob(filepath.Join(suites, cacheBuildPrefix+"*"))
	w, _ := filepath.Glob(filepath.Join(tmp, goWorkPrefix+"*"))
	if left = append(left, w...); len(left) > 0 {
		t.Errorf("build directories left: %v", left)
	}
}

// childRunning returns the PID of a child of pid whose command is name
// with argument arg, or 0.
func childRunning(pid int, name, arg string) int {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, c := range strings.Fields(string(b)) {
			comm, _ := os.ReadFile("/proc/" + c + "/comm")
			args, _ := os.ReadFile("/proc/" + c + "/cmdline")
			if strings.TrimSpace(string(comm)) == name && bytes.Contains(args, []byte("\x00"+arg+"\x00")) {
				n, _ := strconv.Atoi(c)
				return n
			}
		}
	}
	return 0
}

// TestSuiteOutlivesKilledVtestRun kills vtest run with SIGKILL while its
// suite runs: the suite (given SIGTERM as parent-death signal) tears down
// and writes complete reports although its stderr, a pipe to the dead
// vtest run, has no reader any more: both runs in the JUnit report,
// interrupted, the JSON stream with its summary, and the private event
// stream removed. (faults' TestKillVtestRun does this 50 times.)
func TestSuiteOutlivesKilledVtestRun(t *testing.T) {
	hostcheck.RequireRoot(t)
	before := hostcheck.Take(t)
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	junit, jsonl := filepath.Join(dir, "r.xml"), filepath.Join(dir, "e.jsonl")
	cmd := exec.Command(vtestBin, "run", "-run", "^slow$", "-count", "2", "-parallel", "1", "-junit", junit, "-json", jsonl, "./testdata/failing")
	cmd.Env = append(rootEnv(), "NO_COLOR=1", "TMPDIR="+tmp)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Minute // Wait returns when the suite, which shares stdout, exits
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; {
		b, _ := os.ReadFile(jsonl)
		if bytes.Contains(b, []byte(`"check":"ready"`)) {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the run never started:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	b, _ := os.ReadFile(junit)
	if n := bytes.Count(b, []byte("<testsuite ")); n != 2 || bytes.Count(b, []byte(`type="Interrupted"`)) != 2 {
		t.Errorf("JUnit report does not hold both runs interrupted (%d testsuites):\n%s", n, b)
	}
	j, _ := os.ReadFile(jsonl)
	lines := bytes.Split(bytes.TrimSpace(j), []byte("\n"))
	if last := lines[len(lines)-1]; !bytes.Contains(last, []byte(`"action":"summary"`)) || !bytes.Contains(last, []byte(`"INTERRUPTED":2`)) {
		t.Errorf("JSON report does not end with a summary of 2 interrupted runs:\n%s", j)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
	hostcheck.Unchanged(t, before)
}
