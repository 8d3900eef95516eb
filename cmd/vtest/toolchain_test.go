package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFindGoToolNamesWhatItTried(t *testing.T) {
	t.Setenv("VTEST_GO", "/nonexistent/go")
	_, err := findGoTool()
	if err == nil || !strings.Contains(err.Error(), "VTEST_GO=/nonexistent/go") || !strings.Contains(err.Error(), "fix:") {
		t.Fatalf("err = %v", err)
	}
	t.Setenv("VTEST_GO", "")
	t.Setenv("PATH", "/nonexistent")
	gt, err := findGoTool()
	if err != nil {
		// Only where no toolchain is found at all; the message says how.
		if !strings.Contains(err.Error(), "cannot find the Go toolchain") || !strings.Contains(err.Error(), "VTEST_GO") {
			t.Fatalf("err = %v", err)
		}
		return
	}
	if !filepath.IsAbs(gt.path) {
		t.Errorf("found %q without PATH", gt.path)
	}
}

func TestToolErrorNeverEndsAtAColon(t *testing.T) {
	cmd := exec.Command("/bin/false", "x")
	err := cmd.Run()
	for _, out := range []string{"", "  \n"} {
		msg := toolError(cmd, err, out).Error()
		if strings.HasSuffix(strings.TrimSpace(msg), ":") || !strings.Contains(msg, "printed nothing") {
			t.Errorf("toolError(%q) = %q", out, msg)
		}
	}
	if msg := toolError(cmd, err, "boom\n").Error(); msg != "false x: boom" {
		t.Errorf("with output: %q", msg)
	}
	cmd = exec.Command("/nonexistent/tool")
	if msg := toolError(cmd, cmd.Run(), "").Error(); !strings.Contains(msg, "no such file") {
		t.Errorf("not started: %q", msg)
	}
}

func TestNormalizePaths(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "scenarios"), 0o755)
	os.WriteFile(filepath.Join(dir, "file.go"), nil, 0o644)
	t.Chdir(dir)
	abs := filepath.Join(dir, "scenarios")
	for in, want := range map[string]string{
		"scenarios":     abs,
		"scenarios/":    abs,
		"./scenarios":   abs,
		abs:             abs,
		"./...":         dir + "/...",
		"scenarios/...": abs + "/...",
		"example.com/x": "example.com/x",
	} {
		d, args, err := normalizePaths([]string{in})
		if err != nil || len(args) != 1 || args[0] != want {
			t.Errorf("normalizePaths(%q) = %q, %q, %v; want %q", in, d, args, err, want)
		}
	}
	for _, bad := range []string{"./missing", "/nonexistent/dir", "file.go"} {
		if _, _, err := normalizePaths([]string{bad}); err == nil {
			t.Errorf("normalizePaths(%q) accepted", bad)
		}
	}
}

func TestUntrustedCache(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "suite")
	os.WriteFile(f, []byte("x"), 0o755)
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	why := func() string {
		exe, err := openSuite(d, "suite")
		if err != nil {
			return err.Error()
		}
		exe.f.Close()
		return ""
	}
	if why := why(); why != "" {
		t.Fatalf("own file untrusted: %s", why)
	}
	os.Chmod(f, 0o775)
	if why := why(); !strings.Contains(why, "writable by group or others") {
		t.Errorf("group-writable: %q", why)
	}
	os.Chmod(f, 0o755)
	os.Symlink("suite", filepath.Join(dir, "link"))
	if _, err := openSuite(d, "link"); err == nil {
		t.Errorf("a symbolic link was opened")
	}
	if os.Geteuid() == 0 {
		os.Chown(f, 12345, 12345)
		if why := why(); !strings.Contains(why, "belongs to uid 12345") {
			t.Errorf("foreign owner: %q", why)
		}
	}
}

func TestPruneCacheKeepsMostRecent(t *testing.T) {
	dir := t.TempDir()
	for i := range 5 {
		p := filepath.Join(dir, string(rune('a'+i)))
		os.WriteFile(p, nil, 0o755)
		tm := timeAt(i)
		os.Chtimes(p, tm, tm)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pruneCache(d, 2)
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 || ents[0].Name() != "d" || ents[1].Name() != "e" {
		t.Errorf("kept %v, want d and e", ents)
	}
}

func timeAt(i int) time.Time { return time.Unix(1_700_000_000+int64(i)*60, 0) }
