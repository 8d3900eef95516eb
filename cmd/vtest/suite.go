package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/invoker"
	"github.com/vtest-dev/vtest/internal/tmpdir"
	"github.com/vtest-dev/vtest/reports"
	"github.com/vtest-dev/vtest/runner"
)

type goPackage struct {
	ImportPath string
	Name       string
	Dir        string
	Module     *struct{ Path, Dir string }
	Error      *struct{ Err string }
	// GoFiles and the test files tell a package of tests only.
	GoFiles, TestGoFiles, XTestGoFiles []string
	// Match are the command-line patterns that matched the package.
	Match []string
}

// testOnly says whether p has test files and no other Go files: it can
// hold go tests, not scenarios for vtest.
func (p goPackage) testOnly() bool {
	return len(p.GoFiles) == 0 && len(p.TestGoFiles)+len(p.XTestGoFiles) > 0
}

// byPattern says whether p was matched by a "..." pattern only, not named:
// such packages are skipped when they cannot hold scenarios, as go build
// ./... skips packages of tests only.
func (p goPackage) byPattern() bool {
	for _, m := range p.Match {
		if !strings.Contains(m, "...") {
			return false
		}
	}
	return len(p.Match) > 0
}

// maxCachedSuites bounds the suite cache: the least recently used suites
// beyond it are removed after each build.
const maxCachedSuites = 16

// suiteExe is a suite binary held open: vtest runs the file it opened and
// checked, through its descriptor, never what a path names by the time the
// suite starts.
type suiteExe struct {
	f *os.File
}

// command returns how to start the suite after prefix (an -exec command
// such as sudo): /proc/self/fd/N when vtest starts it itself, else
// /proc/PID/fd/N of vtest's process, which the prefix (root, or the same
// user) may open.
func (s *suiteExe) command(prefix []string) []string {
	if len(prefix) == 0 {
		return []string{fmt.Sprintf("/proc/self/fd/%d", s.f.Fd())}
	}
	return append(slices.Clone(prefix), fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), s.f.Fd()))
}

// openSuite opens the suite binary name in the directory dir without
// following a link, and checks the file it opened: a regular file of a
// user vtest trusts (see invoker.Trusts) that no group or others may
// write.
func openSuite(dir *os.File, name string) (*suiteExe, error) {
	path := filepath.Join(dir.Name(), name)
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if err := invoker.CheckOwnerMode(path, &st); err != nil {
		f.Close()
		return nil, err
	}
	return &suiteExe{f: f}, nil
}

// suiteBinary builds (or finds in the cache) the suite binary for the
// packages at paths, and returns it open (see suiteExe). With out set it
// writes a static binary there instead and returns no suiteExe. The
// returned cleanup closes the binary and removes one that could not be
// cached.
func suiteBinary(paths []string, out string, static bool, stderr io.Writer) (exe *suiteExe, cleanup func(), err error) {
	cleanup = func() {}
	gt, err := findGoTool()
	if err != nil {
		return nil, cleanup, err
	}
	// The go command's own temporary files go where a later vtest removes
	// them if vtest and the go command are killed before they can.
	work, err := tmpdir.New("", goWorkPrefix)
	if err != nil {
		return nil, cleanup, err
	}
	defer work.Remove()
	if err := gt.chownToUser(work.Path); err != nil {
		return nil, cleanup, err
	}
	gt.workDir = work.Path
	key, src, modDir, err := suiteKey(gt, paths, static)
	if err != nil {
		return nil, cleanup, err
	}
	var cache *os.File
	if out == "" {
		cache = openCache(gt, stderr)
	}
	if cache != nil {
		defer cache.Close()
		exe, err := openSuite(cache, key)
		switch {
		case err == nil:
			now := unix.NsecToTimespec(time.Now().UnixNano())
			// Least recently used goes first.
			unix.UtimesNanoAt(int(cache.Fd()), key, []unix.Timespec{now, now}, unix.AT_SYMLINK_NOFOLLOW)
			return exe, func() { exe.f.Close() }, nil
		case !errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(stderr, "vtest: not running cached suite: %v; rebuilding it\n", err)
			unix.Unlinkat(int(cache.Fd()), key, 0)
		}
	}
	sweepLeftovers(gt, cache)
	bd, useCache, err := newBuildDir(gt, cache, stderr)
	if err != nil {
		return nil, cleanup, err
	}
	if !useCache {
		cache = nil
	}
	tmp := bd.Path
	defer func() {
		if err != nil {
			bd.Remove()
		}
	}()
	mainFile := filepath.Join(tmp, "main.go")
	if err := os.WriteFile(mainFile, src, 0o644); err != nil {
		return nil, cleanup, err
	}
	// The generated package must live inside the module to import its
	// packages; an overlay puts it there without touching the tree.
	genDir := filepath.Join(modDir, ".vtest-gen", "suite")
	ov, _ := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(genDir, "main.go"): mainFile}})
	ovFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ovFile, ov, 0o644); err != nil {
		return nil, cleanup, err
	}
	// The go command writes into a directory of the user it runs as; the
	// binary is moved to out (or into the cache) afterwards.
	target := filepath.Join(tmp, "suite")
	// The generated main imports vtest's runner, whose dependencies the
	// user's go.sum may not list (go mod tidy only sees the user's own
	// imports). Build against a copy of go.mod and go.sum that the go
	// command may complete, so the user's files stay untouched.
	modCopy := filepath.Join(tmp, "go.mod")
	if err := copyFile(filepath.Join(modDir, "go.mod"), modCopy); err != nil {
		return nil, cleanup, err
	}
	if err := copyFile(filepath.Join(modDir, "go.sum"), filepath.Join(tmp, "go.sum")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, cleanup, err
	}
	args := []string{"build", "-overlay", ovFile, "-modfile", modCopy, "-mod=mod", "-o", mustAbs(target)}
	// The suite reports the version of the vtest that built it.
	ldflags := "-X github.com/vtest-dev/vtest/runner.Version=" + runner.Version
	if static {
		args = append(args, "-trimpath")
		ldflags += " -s -w"
	}
	args = append(args, "-ldflags="+ldflags)
	args = append(args, "./.vtest-gen/suite")
	cmd := gt.command(args...)
	cmd.Dir = modDir
	if static {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	var errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &errBuf, &errBuf
	if err := runTool(cmd); err != nil {
		return nil, cleanup, fmt.Errorf("building the suite failed: %w", toolError(cmd, err, errBuf.String()))
	}
	if out != "" {
		if err := moveFile(target, out); err != nil {
			return nil, cleanup, err
		}
		bd.Remove()
		return nil, cleanup, nil
	}
	if cache == nil {
		// A private copy, in a directory only this run uses.
		dir, err := os.Open(tmp)
		if err != nil {
			return nil, cleanup, err
		}
		defer dir.Close()
		exe, err := openSuite(dir, "suite")
		if err != nil {
			return nil, cleanup, err
		}
		return exe, func() { exe.f.Close(); bd.Remove() }, nil
	}
	// On the cache's file system (see newBuildDir): one rename.
	if err := unix.Renameat(unix.AT_FDCWD, target, int(cache.Fd()), key); err != nil {
		return nil, cleanup, &os.LinkError{Op: "rename", Old: target, New: filepath.Join(cache.Name(), key), Err: err}
	}
	bd.Remove()
	pruneCache(cache, maxCachedSuites)
	exe, err = openSuite(cache, key)
	if err != nil {
		return nil, cleanup, err
	}
	return exe, func() { exe.f.Close() }, nil
}

// suiteKey lists the packages at paths and returns the cache key of their
// suite, the source of its generated main package and the module's
// directory.
func suiteKey(gt *goTool, paths []string, static bool) (key string, src []byte, modDir string, err error) {
	pkgs, err := listPackages(gt, paths)
	if err != nil {
		return "", nil, "", err
	}
	modDir = pkgs[0].Module.Dir
	var b bytes.Buffer
	b.WriteString("// Code generated by vtest; DO NOT EDIT.\n\npackage main\n\nimport (\n\t\"github.com/vtest-dev/vtest/runner\"\n")
	for _, p := range pkgs {
		fmt.Fprintf(&b, "\t_ %q\n", p.ImportPath)
	}
	b.WriteString(")\n\nfunc main() { runner.Main() }\n")
	var pkgDirs []string
	for _, p := range pkgs {
		pkgDirs = append(pkgDirs, p.Dir)
	}
	key, err = cacheKey(gt, modDir, pkgDirs, b.Bytes(), static)
	return key, b.Bytes(), modDir, err
}

// openCache opens the suite cache, making it if needed, or returns nil
// (after saying why on stderr) when there is none vtest may trust: the
// suites in it run as root.
func openCache(gt *goTool, stderr io.Writer) *os.File {
	dir := suiteCacheDir(gt)
	if dir == "" {
		fmt.Fprintf(stderr, "vtest: no suite cache (HOME is not set): building a private copy (fix: set HOME or XDG_CACHE_HOME)\n")
		return nil
	}
	d, err := invoker.OpenTrustedDir(dir, true)
	if err != nil {
		fmt.Fprintf(stderr, "vtest: not using the suite cache %s: %v; building a private copy\n", dir, err)
		return nil
	}
	return d
}

// Where suites are built: in the suite cache (".build-*"), whose file
// system may differ from TMPDIR's (a tmpfs /tmp), so the binary moves into
// the cache with one rename; in TMPDIR ("vtest-gen-*") when there is no
// cache to use.
const (
	cacheBuildPrefix   = ".build-"
	privateBuildPrefix = "vtest-gen-"
	// goWorkPrefix names the go command's GOTMPDIR, in TMPDIR.
	goWorkPrefix = "vtest-gowork-"
)

// newBuildDir makes the directory a suite is built in: in the opened cache
// when there is one (else, or when the cache takes no new directory, a
// private one in TMPDIR; useCache says which it is).
func newBuildDir(gt *goTool, cache *os.File, stderr io.Writer) (*tmpdir.Dir, bool, error) {
	var bd *tmpdir.Dir
	var err error
	useCache := cache != nil
	if useCache {
		if bd, err = tmpdir.New(cache.Name(), cacheBuildPrefix); err != nil {
			fmt.Fprintf(stderr, "vtest: cannot build in the suite cache (%v); building a private copy\n", err)
			useCache = false
		}
	}
	if bd == nil {
		if bd, err = tmpdir.New("", privateBuildPrefix); err != nil {
			return nil, false, err
		}
	}
	if err := gt.chownToUser(bd.Path); err != nil {
		bd.Remove()
		return nil, false, err
	}
	return bd, useCache, nil
}

// sweepLeftovers removes the build directories that builds killed before
// they removed them left (see tmpdir), of this user (under sudo, also of
// the invoking user, who gets them), and the event streams of runs killed
// after their build (see runner.SweepCrashWatches).
func sweepLeftovers(gt *goTool, cache *os.File) {
	runner.SweepCrashWatches()
	owners := []int{os.Geteuid()}
	if gt.user != nil {
		owners = append(owners, gt.user.UID)
	}
	tmpdir.Sweep("", privateBuildPrefix, owners...)
	tmpdir.Sweep("", goWorkPrefix, owners...)
	if cache != nil { // opened and checked by openCache
		tmpdir.Sweep(cache.Name(), cacheBuildPrefix, owners...)
	}
}

// suiteCacheDir is where built suites are kept: the user cache directory
// of whoever asked for the run (under sudo, the invoking user's); "" when
// there is none. Never a shared directory such as /tmp, whose names anyone
// can take first.
func suiteCacheDir(gt *goTool) string {
	if gt.user != nil {
		if gt.user.Home == "" {
			return ""
		}
		return filepath.Join(gt.user.Home, ".cache", "vtest", "suites")
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "vtest", "suites")
}

// pruneCache keeps the keep most recently used suites in dir.
func pruneCache(dir *os.File, keep int) {
	names, err := readDir(dir)
	if err != nil {
		return
	}
	type entry struct {
		name string
		used int64
	}
	var es []entry
	for _, name := range names {
		var st unix.Stat_t
		if unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			es = append(es, entry{name, st.Mtim.Nano()})
		}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].used > es[j].used })
	for _, e := range es[min(keep, len(es)):] {
		unix.Unlinkat(int(dir.Fd()), e.name, 0)
	}
}

// readDir lists the names in the open directory dir, leaving dir open.
func readDir(dir *os.File) ([]string, error) {
	fd, err := unix.Openat(int(dir.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	d := os.NewFile(uintptr(fd), dir.Name())
	defer d.Close()
	return d.Readdirnames(-1)
}

// cleanCache empties the suite cache and returns what it removed.
func cleanCache() ([]string, error) {
	gt := &goTool{}
	if u, ok := invoker.FromSudo(); ok {
		gt.user = &u
	}
	path := suiteCacheDir(gt)
	if path == "" {
		return nil, nil
	}
	dir, err := invoker.OpenTrustedDir(path, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	names, err := readDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, name := range names {
		p := filepath.Join(path, name)
		err := unix.Unlinkat(int(dir.Fd()), name, 0)
		if errors.Is(err, unix.EISDIR) {
			// Through the checked directory's descriptor, not its path.
			err = os.RemoveAll(fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), name))
		}
		if err != nil {
			return removed, fmt.Errorf("remove %s: %w", p, err)
		}
		removed = append(removed, p)
	}
	return removed, nil
}

// moveFile renames from to to, or copies it (keeping its mode) across file
// systems.
func moveFile(from, to string) error {
	if err := os.Rename(from, to); err == nil {
		return nil
	}
	fi, err := os.Stat(from)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	// A new file in place of whatever to names (never written through a
	// link there), given to the user behind sudo in their directories.
	return reports.WriteFileAtomic(to, func(w io.Writer) error {
		if f, ok := w.(*os.File); ok {
			if err := f.Chmod(fi.Mode().Perm()); err != nil {
				return err
			}
		}
		_, err := w.Write(b)
		return err
	})
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// listPackages resolves paths with go list and checks they are packages of
// one module that can be imported.
func listPackages(gt *goTool, paths []string) ([]goPackage, error) {
	dir, args, err := normalizePaths(paths)
	if err != nil {
		return nil, err
	}
	out, err := gt.output(dir, append([]string{"list", "-e", "-json=ImportPath,Name,Dir,Module,Error,GoFiles,TestGoFiles,XTestGoFiles,Match"}, args...)...)
	if err != nil {
		return nil, err
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		switch {
		case p.byPattern() && (p.testOnly() || p.Name == "main"):
			// Packages of tests only and commands hold no scenarios.
			continue
		case p.testOnly():
			return nil, fmt.Errorf("package %s has only _test.go files: it can hold go tests (run them with go test -exec sudo), not scenarios for vtest, which registers them from a package's non-test files", p.ImportPath)
		case p.Error != nil && !filepath.IsAbs(p.ImportPath) && !strings.Contains(p.ImportPath, "."):
			// A name that is no directory here reads to go list as a
			// package of the standard library.
			return nil, fmt.Errorf("%s is neither a directory here nor an import path go list knows (tried ./%s and the import path %s: %s)", p.ImportPath, p.ImportPath, p.ImportPath, p.Error.Err)
		case p.Error != nil:
			return nil, fmt.Errorf("package %s: %s", p.ImportPath, p.Error.Err)
		case p.Module == nil:
			return nil, fmt.Errorf("package %s is not in a Go module (run go mod init)", p.ImportPath)
		case p.Name == "main":
			return nil, fmt.Errorf("package %s is a main package; scenarios must be in an importable package", p.ImportPath)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("no Go package that can hold scenarios at %s", strings.Join(paths, " "))
	}
	for _, p := range pkgs[1:] {
		if p.Module.Dir != pkgs[0].Module.Dir {
			return nil, fmt.Errorf("packages %s and %s are in different modules; run them separately", pkgs[0].ImportPath, p.ImportPath)
		}
	}
	return pkgs, nil
}

// normalizePaths turns PATH arguments as users write them into what go list
// takes: a directory with or without "./" (scenarios, scenarios/, an
// absolute path), a "dir/..." pattern, or an import path. Directories
// become absolute, and go list runs in the first of them, so a module
// elsewhere on disk works from any working directory.
func normalizePaths(paths []string) (dir string, args []string, err error) {
	for _, p := range paths {
		base, pattern := strings.CutSuffix(p, "/...")
		if base == "" {
			base = "/"
		}
		if fi, err := os.Stat(base); err == nil {
			if !fi.IsDir() {
				return "", nil, fmt.Errorf("%s is a file; give the directory of a Go package (e.g. %s)", p, "./"+filepath.Dir(filepath.Clean(base)))
			}
			abs, err := filepath.Abs(base)
			if err != nil {
				return "", nil, err
			}
			if dir == "" {
				dir = abs
			}
			if pattern {
				abs += "/..."
			}
			args = append(args, abs)
			continue
		}
		if filepath.IsAbs(p) || strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") || p == "." || p == ".." {
			return "", nil, fmt.Errorf("no directory %s", base)
		}
		args = append(args, p)
	}
	return dir, args, nil
}

// cacheKey hashes what the binary depends on: the Go version, the generated
// source, and every .go, go.mod and go.sum file of the module (a change to
// a dependency shows in go.sum; a replace to a local directory is hashed
// through that directory's files as well), including the suite's own
// packages where they live in directories Go otherwise ignores (testdata).
func cacheKey(gt *goTool, modDir string, pkgDirs []string, src []byte, static bool) (string, error) {
	h := sha256.New()
	v, err := gt.output(modDir, "env", "GOVERSION", "GOFLAGS", "GOOS", "GOARCH")
	if err != nil {
		return "", err
	}
	h.Write(v)
	h.Write(src)
	fmt.Fprintf(h, "static=%v version=%s\n", static, runner.Version)
	dirs := []string{modDir}
	if out, err := gt.output(modDir, "list", "-m", "-f", "{{if .Replace}}{{.Replace.Dir}}{{end}}", "all"); err == nil {
		for _, d := range strings.Fields(string(out)) {
			dirs = append(dirs, d)
		}
	}
	for _, dir := range dirs {
		var files []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() && p != dir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor") {
				// Not part of the build, unless a suite package lives
				// there (vtest run ./testdata/x).
				holdsPackage := false
				for _, pd := range pkgDirs {
					holdsPackage = holdsPackage || within(pd, p)
				}
				if !holdsPackage {
					return filepath.SkipDir
				}
			}
			if !d.IsDir() && (strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") || d.Name() == "go.mod" || d.Name() == "go.sum") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s %d\n", f, len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}
