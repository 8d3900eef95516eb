package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/vtest-dev/vtest/runner"
)

// vtestWord is the vtest CLI as the examples call it (installed, by path,
// or through go run …/cmd/vtest@version); suiteWord a suite binary written
// by vtest build, which takes the run flags.
var (
	vtestWord  = regexp.MustCompile(`(^|/)vtest(@\S+)?"?$|^\$\(command -v vtest\)?$`)
	suiteWord  = regexp.MustCompile(`(^|/)vtest-suite$`)
	githubExpr = regexp.MustCompile(`\$\{\{[^}]*\}\}`)
	variable   = regexp.MustCompile(`\$\{\{[^}]*\}\}|\$\([A-Za-z_]+\)|\$\{[A-Za-z_]+\}|\$[A-Za-z_]+`)
)

// kernelOnlyFlags are vtest kernel's own flags (the rest are run flags).
var kernelOnlyFlags = map[string]bool{"kernel": true, "modules": true, "mem": true, "timeout": true, "accel": true,
	"junit": true, "keep-work": true, "bzimage": true}

// exampleCommand is one vtest or suite command line found in an example.
type exampleCommand struct {
	words []string // from the command word on
	suite bool
	// noPaths skips the check that package paths are this repository's
	// (documentation commands run in a module of their own).
	noPaths bool
	env     []string // the volume mounts of its container (Kubernetes)
}

// TestExamples parses every example CI file and checks that each vtest
// command and flag it uses exists, every package path it runs exists in
// this repository, and every report or capture path it uploads or merges is
// one a vtest command in the file writes (and, in Kubernetes, lies on a
// mounted volume).
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.y*ml")
	if len(files) < 3 {
		t.Fatalf("examples: %v", files)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var cmds []exampleCommand
			var inputs []string // paths the file reads: artifacts, reports, merge inputs
			dec := yaml.NewDecoder(bytes.NewReader(b))
			for {
				var doc yaml.Node
				if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatalf("not YAML: %v", err)
				}
				walkExample(&doc, nil, false, &cmds, &inputs)
			}
			if len(cmds) == 0 {
				t.Fatal("no vtest command found")
			}
			var outputs []string
			for _, c := range cmds {
				outs, ins := checkExampleCommand(t, c)
				outputs = append(outputs, outs...)
				inputs = append(inputs, ins...)
			}
			for _, in := range inputs {
				if !producedBy(in, outputs) {
					t.Errorf("%s is read (artifact, report or merge input) but no vtest command writes it (it writes %v)", in, outputs)
				}
			}
		})
	}
}

// shellKeys hold shell commands: GitHub's run, GitLab's scripts,
// Kubernetes' command and args.
var shellKeys = map[string]bool{"run": true, "script": true, "before_script": true, "after_script": true, "command": true, "args": true}

// walkExample collects the vtest commands in the shell strings of the YAML
// tree and the paths under artifact keys. mounts are the volume mounts of
// the enclosing container, if any; shell says n is under a shell key.
func walkExample(n *yaml.Node, mounts []string, shell bool, cmds *[]exampleCommand, inputs *[]string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkExample(c, mounts, shell, cmds, inputs)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "volumeMounts" {
				for _, m := range n.Content[i+1].Content {
					for j := 0; j+1 < len(m.Content); j += 2 {
						if m.Content[j].Value == "mountPath" {
							mounts = append(mounts, m.Content[j+1].Value)
						}
					}
				}
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i].Value, n.Content[i+1]
			switch key {
			case "path", "paths", "junit", "report_paths":
				for _, p := range scalars(val) {
					for _, line := range strings.Fields(p) {
						*inputs = append(*inputs, line)
					}
				}
			case "command", "args":
				if val.Kind == yaml.SequenceNode && len(val.Content) > 0 && !shellForm(n) {
					// An exec-form command: the words themselves.
					var words []string
					for _, w := range val.Content {
						words = append(words, w.Value)
					}
					findCommands(strings.Join(quoteAll(words), " "), mounts, cmds, inputs)
					continue
				}
			}
			walkExample(val, mounts, shellKeys[key], cmds, inputs)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			walkExample(c, mounts, shell, cmds, inputs)
		}
	case yaml.ScalarNode:
		if shell {
			findCommands(n.Value, mounts, cmds, inputs)
		}
	}
}

// shellForm says whether a Kubernetes container runs its args through a
// shell (command: ["sh", "-c"]).
func shellForm(container *yaml.Node) bool {
	for i := 0; i+1 < len(container.Content); i += 2 {
		if container.Content[i].Value == "command" {
			c := container.Content[i+1]
			return c.Kind == yaml.SequenceNode && len(c.Content) > 0 && strings.HasSuffix(c.Content[0].Value, "sh")
		}
	}
	return false
}

func scalars(n *yaml.Node) []string {
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, scalars(c)...)
	}
	return out
}

func quoteAll(words []string) []string {
	var out []string
	for _, w := range words {
		out = append(out, "'"+w+"'")
	}
	return out
}

// findCommands splits shell text into simple commands and keeps those that
// run vtest or a suite; redirections' targets and merge inputs are noted.
func findCommands(text string, mounts []string, cmds *[]exampleCommand, inputs *[]string) {
	text = strings.ReplaceAll(text, "\\\n", " ")
	text = githubExpr.ReplaceAllString(text, "$$GITHUB_EXPR")
	for _, line := range strings.Split(text, "\n") {
		words := shellWords(line)
		var cur []string
		flush := func() {
			for i, w := range cur {
				switch {
				case suiteWord.MatchString(w):
					*cmds = append(*cmds, exampleCommand{words: cur[i:], suite: true, env: mounts})
				case vtestWord.MatchString(w) && (i == 0 || cur[i-1] != "install"):
					*cmds = append(*cmds, exampleCommand{words: cur[i:], env: mounts})
				default:
					continue
				}
				return
			}
		}
		for _, w := range words {
			switch w {
			case "|", "||", "&&", ";", ">", ">>":
				flush()
				cur = nil
				if w == ">" || w == ">>" {
					cur = []string{w}
				}
				continue
			}
			cur = append(cur, w)
		}
		flush()
	}
}

// shellWords splits a line into words, honouring quotes, and returns shell
// operators as words of their own.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord, quote := false, byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '#' && !inWord:
			i = len(line)
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.IndexByte("|&;>", c) >= 0:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			op := string(c)
			if i+1 < len(line) && (line[i+1] == c) {
				op += string(c)
				i++
			}
			words = append(words, op)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// checkExampleCommand checks one command line and returns the paths it
// writes and reads.
func checkExampleCommand(t *testing.T, c exampleCommand) (outputs, inputs []string) {
	t.Helper()
	words := c.words[1:]
	sub := "run"
	if !c.suite {
		if len(words) == 0 {
			t.Errorf("%q: no vtest command", c.words)
			return nil, nil
		}
		sub, words = words[0], words[1:]
	}
	fs := runner.Flags()
	lookup := func(name string) (*flag.Flag, bool) {
		switch sub {
		case "run", "list", "graph":
			f := fs.Lookup(name)
			return f, f != nil
		case "kernel":
			if kernelOnlyFlags[name] {
				return &flag.Flag{Name: name, Value: &stringValue{}}, true
			}
			f := fs.Lookup(name)
			return f, f != nil
		case "build":
			return &flag.Flag{Name: name, Value: &stringValue{}}, name == "o"
		case "diff":
			return &flag.Flag{Name: name, Value: boolValue{}}, name == "markdown"
		}
		return nil, false
	}
	switch sub {
	case "run", "list", "graph", "kernel", "build", "merge", "diff", "clean", "version", "kconfig":
	default:
		t.Errorf("%q: vtest has no command %q", c.words, sub)
		return nil, nil
	}
	capture, captureDir := false, "vtest-captures"
	var args []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == ">" || w == ">>" {
			break
		}
		if !strings.HasPrefix(w, "-") || w == "-" {
			args = append(args, w)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(w, "-"), "=")
		f, ok := lookup(name)
		if !ok {
			t.Errorf("%q: vtest %s has no flag -%s", c.words, sub, name)
			continue
		}
		if b, isBool := f.Value.(interface{ IsBoolFlag() bool }); !isBool || !b.IsBoolFlag() {
			if !hasVal {
				if i+1 >= len(words) {
					t.Errorf("%q: -%s needs a value", c.words, name)
					continue
				}
				i++
				val = words[i]
			}
		}
		switch name {
		case "junit", "json", "o":
			outputs = append(outputs, val)
		case "capture", "keep-on-failure":
			capture = true
		case "capture-dir":
			captureDir = val
		}
	}
	if capture {
		outputs = append(outputs, captureDir)
	}
	switch sub {
	case "run", "list", "build", "kernel":
		if c.suite || c.noPaths {
			break
		}
		if len(args) == 0 {
			t.Errorf("%q: no package path", c.words)
		}
		for _, p := range args {
			// The examples run this repository's own scenarios.
			if !registersScenarios(filepath.Join("../..", p)) {
				t.Errorf("%q: %s is not a package of this repository that registers scenarios", c.words, p)
			}
		}
	case "merge":
		if len(args) == 0 {
			t.Errorf("%q: nothing to merge", c.words)
		}
		inputs = args
	}
	// Kubernetes: what it writes must land on a mounted volume.
	if len(c.env) > 0 {
		for _, o := range outputs {
			onVolume := false
			for _, m := range c.env {
				onVolume = onVolume || strings.HasPrefix(o, strings.TrimSuffix(m, "/")+"/")
			}
			if !onVolume {
				t.Errorf("%q writes %s outside its volumes %v", c.words, o, c.env)
			}
		}
	}
	return outputs, inputs
}

// registersScenarios says whether dir is a Go package calling
// scenario.Register.
func registersScenarios(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte("scenario.Register(")) {
			return true
		}
	}
	return false
}

// producedBy says whether a path read by the file is one of outputs,
// reading variables as wildcards.
func producedBy(in string, outputs []string) bool {
	pattern := variable.ReplaceAllString(strings.TrimSuffix(in, "/"), "*")
	for _, o := range outputs {
		concrete := variable.ReplaceAllString(strings.TrimSuffix(o, "/"), "0")
		if ok, _ := path.Match(pattern, concrete); ok {
			return true
		}
	}
	return false
}

type stringValue struct{ s string }

func (v *stringValue) String() string     { return v.s }
func (v *stringValue) Set(s string) error { v.s = s; return nil }

type boolValue struct{}

func (boolValue) String() string   { return "false" }
func (boolValue) Set(string) error { return nil }
func (boolValue) IsBoolFlag() bool { return true }
