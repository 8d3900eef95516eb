package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/internal/hostcheck"
)

// docBlock is a fenced block of README.md or a page of docs/. Shell blocks
// carry a label after the language, which says how the test runs them:
//
//	```sh tour    run, in order, in the module the documentation builds
//	              (example.com/mynet, beside a checkout of vtest)
//	```sh repo    run in a checkout of this repository
//	```sh static  checked only (commands, flags and make targets exist):
//	              they need what a test cannot have (a published module,
//	              a kernel tree), each named in staticWhy
//
// Go blocks labelled file=PATH are the files of that module.
type docBlock struct {
	file, lang, label string
	line              int
	text              string
}

var fence = regexp.MustCompile("^```(\\w*)\\s*(.*)$")

// docBlocks returns the fenced blocks of README.md and docs/*.md, README
// first.
func docBlocks(t *testing.T) []docBlock {
	t.Helper()
	files := []string{"../../README.md"}
	pages, _ := filepath.Glob("../../docs/*.md")
	files = append(files, pages...)
	if len(pages) < 5 {
		t.Fatalf("docs/ pages: %v", pages)
	}
	var blocks []docBlock
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cur *docBlock
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			m := fence.FindStringSubmatch(line)
			switch {
			case cur == nil && m != nil:
				cur = &docBlock{file: filepath.Base(f), lang: m[1], label: strings.TrimSpace(m[2]), line: n}
			case cur != nil && strings.HasPrefix(line, "```"):
				blocks = append(blocks, *cur)
				cur = nil
			case cur != nil:
				cur.text += line + "\n"
			}
		}
		if cur != nil {
			t.Fatalf("%s:%d: unterminated code block", f, cur.line)
		}
	}
	return blocks
}

func isShell(lang string) bool { return lang == "sh" || lang == "bash" || lang == "shell" }

// staticWhy names, for each command of a static block (by its first
// words), why the test does not run it.
var staticWhy = map[string]string{
	"go install github.com/vtest-dev/vtest/cmd/vtest@latest": "needs the published module; the tour installs from the checkout instead",
	"go get github.com/vtest-dev/vtest@latest":               "needs the published module; the tour uses require + replace instead",
	"go mod init example.com/mynet":                          "the tour runs it",
	"mkdir mynet && cd mynet":                                "the tour works in such a directory",
	"make -C linux":                                          "needs a kernel tree (make kernel-check runs vtest kernel on Debian's kernel)",
	"vtest kernel":                                           "boots a VM: make kernel-check runs it (TestKernel*)",
	"vtest run --junit old.xml ./scenarios":                  "the tour runs vtest run; TestKernel* runs this comparison",
	"vtest diff old.xml new.xml":                             "needs the two reports above; TestDiff* runs vtest diff",
}

// repoWhy names, for each repo command, which test runs it.
var repoWhy = map[string]string{
	"make run":  "TestWorkstationWithSudo runs it as a normal user with sudo (and sudo make run)",
	"make test": "is the test suite itself (CI runs it as root; TestWorkstationWithSudo runs its parts as a normal user)",
}

// commands splits a shell block into command lines, without comments.
func commands(text string) []string {
	var out []string
	for _, line := range strings.Split(strings.ReplaceAll(text, "\\\n", " "), "\n") {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// TestDocCommands checks every shell command shown in README.md and docs/:
// each block says how it is run, every vtest command and flag exists, every
// make target is in the Makefile, and a command not run by TestDocTour
// says which test runs it or why none can.
func TestDocCommands(t *testing.T) {
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var shell int
	for _, b := range docBlocks(t) {
		if !isShell(b.lang) {
			continue
		}
		shell++
		where := fmt.Sprintf("%s:%d", b.file, b.line)
		for _, line := range commands(b.text) {
			for _, c := range simpleCommands(line) {
				switch {
				case suiteWord.MatchString(c[0]):
					checkExampleCommand(t, exampleCommand{words: c, suite: true})
				case vtestWord.MatchString(c[0]):
					checkExampleCommand(t, exampleCommand{words: c, noPaths: true})
				case c[0] == "make" && b.label == "repo":
					for _, target := range c[1:] {
						if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:`).Match(makefile) {
							t.Errorf("%s: %q: the Makefile has no target %s", where, line, target)
						}
					}
				}
			}
			switch b.label {
			case "tour":
			case "repo":
				if why := lookupPrefix(repoWhy, line); why == "" {
					t.Errorf("%s: %q: a repo command no test runs (add it to repoWhy with the test that runs it)", where, line)
				} else {
					t.Logf("%s: %s: %s", where, line, why)
				}
			case "static":
				if why := lookupPrefix(staticWhy, line); why == "" {
					t.Errorf("%s: %q: a command the test does not run, without a reason (run it in a tour block, or add it to staticWhy)", where, line)
				} else {
					t.Logf("%s: not run: %s: %s", where, line, why)
				}
			default:
				t.Errorf("%s: shell block labelled %q: want tour, repo or static", where, b.label)
			}
		}
	}
	if shell < 8 {
		t.Errorf("only %d shell blocks found", shell)
	}
}

// simpleCommands splits a command line at shell operators and returns
// each simple command's words from its command word on (after sudo, a
// subshell's parenthesis, or a cd).
func simpleCommands(line string) [][]string {
	var out [][]string
	var cur []string
	flush := func() {
		for len(cur) > 0 && (cur[0] == "sudo" || cur[0] == "(" || strings.HasPrefix(cur[0], "(")) {
			if strings.HasPrefix(cur[0], "(") && len(cur[0]) > 1 {
				cur[0] = cur[0][1:]
				continue
			}
			cur = cur[1:]
		}
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur = nil
	}
	for _, w := range shellWords(line) {
		switch w {
		case "|", "||", "&&", ";", ">", ">>":
			flush()
			continue
		}
		cur = append(cur, strings.TrimSuffix(w, ")"))
	}
	flush()
	return out
}

func lookupPrefix(m map[string]string, line string) string {
	for k, v := range m {
		if strings.HasPrefix(line, k) {
			return v
		}
	}
	return ""
}

// tour is what the documentation builds: the files of the module and the
// shell blocks run in it, in order.
type tour struct {
	files  map[string]string
	blocks []docBlock
}

func docTour(t *testing.T) tour {
	tr := tour{files: map[string]string{}}
	for _, b := range docBlocks(t) {
		switch {
		case b.lang == "go" && strings.HasPrefix(b.label, "file="):
			tr.files[strings.TrimPrefix(b.label, "file=")] = b.text
		case isShell(b.lang) && b.label == "tour":
			tr.blocks = append(tr.blocks, b)
		}
	}
	if len(tr.files) < 5 || len(tr.blocks) < 5 {
		t.Fatalf("tour: %d files, %d blocks", len(tr.files), len(tr.blocks))
	}
	return tr
}

// write puts the tour's files into dir/mynet beside dir/vtest, a link to
// this checkout, and returns the module directory.
func (tr tour) write(t *testing.T, dir, repo string) string {
	t.Helper()
	mod := filepath.Join(dir, "mynet")
	for name, content := range tr.files {
		p := filepath.Join(mod, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if repo != "" {
		if err := os.Symlink(repo, filepath.Join(dir, "vtest")); err != nil {
			t.Fatal(err)
		}
	}
	return mod
}

// script is one block as a bash script that stops at the first failing
// command and echoes each.
func (b docBlock) script() string {
	return "set -euo pipefail\nset -x\n" + b.text
}

// TestDocTour runs, as root, every command of the tour blocks of README.md
// and docs/, in order, in the module the documentation builds (its Go
// files from the file= blocks), against this checkout. TestWorkstationWithSudo
// runs the same as a normal user with sudo.
func TestDocTour(t *testing.T) {
	hostcheck.RequireRoot(t)
	if testing.Short() {
		t.Skip("builds a module and runs its scenarios: not in -short")
	}
	tr := docTour(t)
	dir := readableTempDir(t)
	repo, _ := filepath.Abs("../..")
	mod := tr.write(t, dir, repo)
	bin := filepath.Join(dir, "bin")
	env := append(os.Environ(), "GOBIN="+bin, "PATH="+bin+":"+filepath.Dir(hostcheck.GoTool())+":"+os.Getenv("PATH"), "NO_COLOR=1")
	for _, b := range tr.blocks {
		start := time.Now()
		cmd := exec.Command("bash", "-c", b.script())
		cmd.Dir, cmd.Env = mod, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s:%d: %v\n%s", b.file, b.line, err, out)
		}
		if strings.Contains(string(out), "--- SKIP") {
			t.Errorf("%s:%d: a test skipped as root:\n%s", b.file, b.line, out)
		}
		t.Logf("%s:%d: ok in %v", b.file, b.line, time.Since(start).Round(time.Millisecond))
	}
	// What the tour promises: reports where it said, packages of tests only
	// skipped by ./..., the first go test passed rather than skipped.
	for _, p := range []string{"out/report.xml", "out/sudo.xml", "vtest-suite"} {
		if _, err := os.Stat(filepath.Join(mod, p)); err != nil {
			t.Errorf("the tour did not leave %s: %v", p, err)
		}
	}
}
