package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/internal/hostcheck"
)

// mineGo is a user's scenario package: two hosts and a reach check.
const mineGo = `package myscenarios

import (
	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

func init() {
	s := scenario.Define("mine", "my own scenario")
	s.Host("client")
	s.Host("server")
	s.Link("client", "server").Subnet("192.168.77.0/24")
	s.Check("client reaches server", assert.Reach("client", "server"))
	scenario.Register(s)
}
`

// userModule writes a module example.com/mine in dir that uses this
// checkout of vtest (require + replace), with files (path → content), and
// completes its go.sum.
func userModule(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	repo, _ := filepath.Abs("../..")
	files["go.mod"] = fmt.Sprintf("module example.com/mine\n\ngo 1.25.0\n\nrequire github.com/vtest-dev/vtest v0.0.0\n\nreplace github.com/vtest-dev/vtest => %s\n", repo)
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tidy := exec.Command(hostcheck.GoTool(), "mod", "tidy")
	tidy.Dir = dir
	if out, err := tidy.CombinedOutput(); err != nil {
		t.Fatalf("go mod tidy: %v\n%s", err, out)
	}
}

// readableTempDir is t.TempDir made readable by others, for modules that
// vtest builds as the user behind sudo (go test -exec sudo makes the
// temporary directory root's, mode 0700).
func readableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestUnreadableModule: under sudo vtest builds as the invoking user; when
// that user cannot enter the module's directory the message names the
// directory and the fix instead of blaming Go ("fork/exec …/go: permission
// denied").
func TestUnreadableModule(t *testing.T) {
	hostcheck.RequireRoot(t)
	dir := t.TempDir() // root's, and its parent is mode 0700
	userModule(t, dir, map[string]string{"myscenarios/mine.go": mineGo})
	locked := filepath.Dir(dir)
	if err := os.Chmod(locked, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(vtestBin, "list", "./myscenarios")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SUDO_UID=65534", "SUDO_GID=65534", "SUDO_USER=nobody", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v, want 2\n%s", err, out)
	}
	for _, want := range []string{"as nobody (uid 65534", "cannot enter " + locked + " (owner uid 0, mode -rwx------)", "chmod o+rx " + locked, "sudo env -u SUDO_UID vtest"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestTestOnlyPackages: ./... skips packages that cannot hold scenarios
// (tests only, commands) as go build ./... does; naming such a package
// says what it is.
func TestTestOnlyPackages(t *testing.T) {
	dir := readableTempDir(t)
	userModule(t, dir, map[string]string{
		"myscenarios/mine.go":   mineGo,
		"webtest/web_test.go":   "package webtest\n\nimport \"testing\"\n\nfunc TestWeb(t *testing.T) {}\n",
		"cmd/tool/main.go":      "package main\n\nfunc main() {}\n",
		"internal/util/util.go": "package util\n\n// Two is 2.\nconst Two = 2\n",
	})
	vtest(t, dir, "list", "./...").must(t, 0, "mine\n")
	if r := vtest(t, dir, "graph", "mine", "./..."); r.code != 0 || !strings.Contains(r.stdout, "client") {
		t.Errorf("vtest graph mine ./...: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	vtest(t, dir, "list", "./webtest").must(t, 2, "example.com/mine/webtest has only _test.go files", "go test -exec sudo")
}

// TestDuplicateScenario: a name registered twice is an error naming both
// places, not a panic with a stack trace.
func TestDuplicateScenario(t *testing.T) {
	r := vtest(t, ".", "list", "./testdata/duplicate")
	r.must(t, 2)
	want := regexp.MustCompile(`scenario "twice" is registered twice: at \S+duplicate\.go:11 and at \S+duplicate\.go:12 \(fix: give one of them another name\)`)
	if !want.MatchString(r.stderr) || strings.Contains(r.stderr, "goroutine ") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

// TestCaptureValue: a directory after -capture (a switch) was read as a
// package path; the message says what was meant.
func TestCaptureValue(t *testing.T) {
	vtest(t, ".", "run", "-capture", "caps", builtin).must(t, 2, "caps was read as a package path", "-capture=caps", "-capture-dir caps")
}

// TestReportDirectoriesAndCaptureDir: -junit and -json create missing
// directories; -capture=DIR captures into DIR.
func TestReportDirectoriesAndCaptureDir(t *testing.T) {
	hostcheck.RequireRoot(t)
	dir := t.TempDir()
	junit := filepath.Join(dir, "out", "deeper", "report.xml")
	events := filepath.Join(dir, "events", "run.json")
	caps := filepath.Join(dir, "caps")
	vtest(t, ".", "run", "-junit", junit, "-json", events, "-capture="+caps, "-run", "fails", "./testdata/failing").must(t, 1)
	for _, p := range []string{junit, events} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("report %s: %v", p, err)
		}
	}
	if pcaps, _ := filepath.Glob(filepath.Join(caps, "*.pcapng")); len(pcaps) == 0 {
		ents, _ := os.ReadDir(caps)
		t.Errorf("-capture=%s kept no capture of the failed scenario: %v", caps, ents)
	}
}
