package reports

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestReportsReplaceLinks: a link planted at a report's path is replaced
// by the new report, never written through, by WriteFileAtomic (whether
// the path exists or not) and by CreateFile.
func TestReportsReplaceLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("untouched"), 0o600)
	for _, name := range []string{"junit.xml", "events.jsonl"} {
		path := filepath.Join(dir, name)
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
		if name == "junit.xml" {
			if err := WriteFileAtomic(path, func(w io.Writer) error { _, err := io.WriteString(w, "report"); return err }); err != nil {
				t.Fatal(err)
			}
		} else {
			f, err := CreateFile(path)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(f, "report")
			f.Close()
		}
		if b, _ := os.ReadFile(target); string(b) != "untouched" {
			t.Errorf("%s: written through the link: target is %q", name, b)
		}
		if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v %v, want a regular file, mode 0644", name, fi, err)
		}
		if b, _ := os.ReadFile(path); string(b) != "report" {
			t.Errorf("%s holds %q", name, b)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("left behind: %v", ents)
	}
}
