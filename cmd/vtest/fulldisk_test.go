package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/internal/hostcheck"
)

// TestFullDiskKeepsJSONReport runs with -json naming an existing report on
// a file system that is full (a small tmpfs, filled, in a private mount
// namespace): the run says it could not write the report, and the previous
// report is left as it was instead of truncated when the run starts.
func TestFullDiskKeepsJSONReport(t *testing.T) {
	hostcheck.RequireRoot(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "small")
	os.Mkdir(mnt, 0o755)
	old := `{"action":"summary","counts":{"PASS":1}}` + "\n"
	saved := filepath.Join(dir, "saved")
	script := `set -e
mount -t tmpfs -o size=256k vtest-full "$1"
cat "$2" > "$1/r.jsonl"
dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null || true
shift 2
"$@" && echo "exit 0" || echo "exit $?"
cp "` + mnt + `/r.jsonl" "` + saved + `"`
	os.WriteFile(filepath.Join(dir, "old"), []byte(old), 0o644)
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", mnt, filepath.Join(dir, "old"),
		vtestBin, "run", "-run", "^fails$", "-json", filepath.Join(mnt, "r.jsonl"), "./testdata/failing")
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "JSON report") || !strings.Contains(string(out), "no space left on device") || strings.Contains(string(out), "exit 0") {
		t.Errorf("the run did not fail saying the JSON report could not be written:\n%s", out)
	}
	if b, err := os.ReadFile(saved); err != nil || string(b) != old {
		t.Errorf("the previous report became %q (%v), want it unchanged", b, err)
	}
}
