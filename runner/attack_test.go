package runner

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/reports"
	"github.com/vtest-dev/vtest/scenario"
)

const untouched = "untouched\n"

// rootTarget makes a root-only file for the attacks to aim at.
func rootTarget(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte(untouched), 0o600); err != nil {
		t.Fatal(err)
	}
	return target
}

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

func ownerOf(t *testing.T, path string) (uid int, regular bool) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid), fi.Mode().IsRegular()
}

// writeReports writes the -json and -junit reports of a run of one
// scenario, as the suite does.
func writeReports(t *testing.T, args ...string) {
	t.Helper()
	c, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rep, closeAll, err := c.reporters(io.Discard, io.Discard, false, nil, []string{"s"}, reports.Meta{Start: time.Now()})
	if err != nil {
		t.Logf("reporters: %v", err)
		return
	}
	defer closeAll()
	rep.Start("s")
	rep.Done(scenario.Outcome{Scenario: "s", Status: scenario.Pass})
	if err := rep.Finish(reports.Summary{}); err != nil {
		t.Logf("finish: %v", err)
	}
}

// TestAttackReportSymlinks: the user behind sudo writes -json and -junit
// into a directory they share with their group; another member plants
// links to a root-only file at the reports' names, and again at the JSON
// report before the crash path appends to it. Root writes new files in
// their place (given to the user: the directory is theirs) and the target
// is untouched.
func TestAttackReportSymlinks(t *testing.T) {
	victim := hostcheck.NewLocalUser(t, "victim")
	attacker := hostcheck.NewLocalUser(t, "attack", victim.Name)
	target := rootTarget(t)
	shared := filepath.Join(victim.Home, "shared")
	victim.Run(t, "chmod", "750", victim.Home)
	victim.Run(t, "mkdir", "-m", "775", shared)
	jsonPath, junitPath := filepath.Join(shared, "r.jsonl"), filepath.Join(shared, "r.xml")
	attacker.Run(t, "ln", "-s", target, jsonPath)
	attacker.Run(t, "ln", "-s", target, junitPath)
	victim.BehindSudo(t)

	writeReports(t, "-json", jsonPath, "-junit", junitPath)
	if !intact(t, target) {
		t.Errorf("-json or -junit wrote through the planted link")
	}
	for _, p := range []string{jsonPath, junitPath} {
		if uid, regular := ownerOf(t, p); !regular || uid != victim.UID {
			t.Errorf("%s: regular %v, uid %d; want the user's new file (uid %d)", p, regular, uid, victim.UID)
		}
	}

	// The suite died; before vtest appends the crash to the JSON report,
	// the attacker puts a link there again.
	attacker.Run(t, "ln", "-sf", target, jsonPath)
	var events bytes.Buffer
	rec, err := reports.NewRecorder(&events, nil, []string{"s"}, reports.Meta{Start: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	rec.Start("s")
	var stderr bytes.Buffer
	if _, crashed := CrashReports([]string{"-json", jsonPath}, &events, "panic: boom", io.Discard, &stderr); !crashed {
		t.Fatalf("no crash seen: %s", stderr.String())
	}
	t.Logf("crash reports: %s", stderr.String())
	if !intact(t, target) {
		t.Errorf("the crash path appended through the planted link")
	}
}

// TestAttackReportChown: under sudo, vtest gives the reports it writes to
// the user, but only in the user's own directories: sudo vtest run
// -junit /root/x must not hand the user a file in root's directory, new or
// replacing one of root's.
func TestAttackReportChown(t *testing.T) {
	victim := hostcheck.NewLocalUser(t, "victim")
	rootDir := t.TempDir()
	os.Chmod(rootDir, 0o755)
	existing := filepath.Join(rootDir, "existing.xml")
	os.WriteFile(existing, []byte("root's\n"), 0o644)
	victim.BehindSudo(t)
	writeReports(t, "-junit", filepath.Join(rootDir, "new.xml"), "-json", filepath.Join(rootDir, "new.jsonl"))
	writeReports(t, "-junit", existing)
	for _, name := range []string{"new.xml", "new.jsonl", "existing.xml"} {
		if uid, _ := ownerOf(t, filepath.Join(rootDir, name)); uid != 0 {
			t.Errorf("%s in root's directory became uid %d's", name, uid)
		}
	}

	// The healthy twin: in the user's own directory the reports are theirs.
	mine := filepath.Join(victim.Home, "reports")
	victim.Run(t, "mkdir", mine)
	writeReports(t, "-junit", filepath.Join(mine, "r.xml"), "-json", filepath.Join(mine, "r.jsonl"))
	for _, name := range []string{"r.xml", "r.jsonl"} {
		if uid, _ := ownerOf(t, filepath.Join(mine, name)); uid != victim.UID {
			t.Errorf("%s in the user's directory is uid %d's, want %d", name, uid, victim.UID)
		}
	}
}
