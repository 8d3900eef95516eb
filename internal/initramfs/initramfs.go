// Package initramfs writes Linux initramfs images: cpio archives in the
// "newc" format (see the kernel's Documentation/driver-api/early-userspace/
// buffer-format.rst), uncompressed.
package initramfs

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// Writer writes an initramfs. Directories are created for every path added.
type Writer struct {
	w    io.Writer
	ino  uint32
	dirs map[string]bool
	off  int64
	err  error
}

// NewWriter returns a Writer on w. Call Close to write the trailer.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, ino: 1, dirs: map[string]bool{"": true, ".": true, "/": true}}
}

const (
	modeDir  = 0o040000
	modeFile = 0o100000
	modeLink = 0o120000
	modeChar = 0o020000
)

func (w *Writer) header(name string, mode uint32, size int, major, minor uint32) {
	if w.err != nil {
		return
	}
	w.ino++
	nlink := 1
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	h := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		w.ino, mode, 0, 0, nlink, 0, size, 0, 0, major, minor, len(name)+1, 0)
	w.write([]byte(h))
	w.write([]byte(name + "\x00"))
	w.pad()
}

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	n, err := w.w.Write(b)
	w.off += int64(n)
	w.err = err
}

func (w *Writer) pad() {
	if r := w.off % 4; r != 0 {
		w.write(make([]byte, 4-r))
	}
}

func clean(name string) string { return strings.TrimPrefix(path.Clean("/"+name), "/") }

// Dir adds a directory and its parents.
func (w *Writer) Dir(name string) {
	name = clean(name)
	if w.dirs[name] {
		return
	}
	w.Dir(path.Dir(name))
	w.dirs[name] = true
	w.header(name, modeDir|0o755, 0, 0, 0)
}

// File adds a regular file with its content and permission bits.
func (w *Writer) File(name string, perm uint32, data []byte) {
	name = clean(name)
	w.Dir(path.Dir(name))
	w.header(name, modeFile|perm&0o7777, len(data), 0, 0)
	w.write(data)
	w.pad()
}

// Symlink adds a symbolic link.
func (w *Writer) Symlink(name, target string) {
	name = clean(name)
	w.Dir(path.Dir(name))
	w.header(name, modeLink|0o777, len(target), 0, 0)
	w.write([]byte(target))
	w.pad()
}

// CharDev adds a character device node, e.g. /dev/console (5, 1), which the
// kernel opens for init's standard streams before anything is mounted.
func (w *Writer) CharDev(name string, major, minor uint32) {
	name = clean(name)
	w.Dir(path.Dir(name))
	w.header(name, modeChar|0o600, 0, major, minor)
}

// Close writes the trailer and returns the first error.
func (w *Writer) Close() error {
	w.header("TRAILER!!!", 0, 0, 0, 0)
	return w.err
}

// Sorted returns the keys of m in order, for reproducible archives.
func Sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
