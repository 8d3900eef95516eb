package vm

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// xenElfnotePhys32Entry is the ELF note that marks a PVH entry point, which
// QEMU boots directly, skipping the bzImage decompressor (seconds under
// TCG).
const xenElfnotePhys32Entry = 18

// extractVmlinux returns an uncompressed kernel with a PVH entry point
// extracted from a bzImage, cached under cacheDir by the bzImage's hash. It
// fails (and the caller boots the bzImage) when the image is not a bzImage,
// its compression cannot be undone here (gzip in Go; xz and zstd with the
// xz and zstd commands, if installed), or the result has no PVH note.
func extractVmlinux(bzImage, cacheDir string) (string, error) {
	b, err := os.ReadFile(bzImage)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	cached := filepath.Join(cacheDir, fmt.Sprintf("vmlinux-%x", sum[:12]))
	if _, err := os.Stat(cached); err == nil {
		return cached, nil
	}
	if len(b) < 0x250 || string(b[0x202:0x206]) != "HdrS" {
		return "", errors.New("not a bzImage")
	}
	setupSects := int(b[0x1f1])
	if setupSects == 0 {
		setupSects = 4
	}
	start := (setupSects+1)*512 + int(binary.LittleEndian.Uint32(b[0x248:]))
	end := start + int(binary.LittleEndian.Uint32(b[0x24c:]))
	if start >= end || end > len(b) {
		return "", errors.New("bad payload offsets")
	}
	payload := b[start:end]
	var raw []byte
	switch {
	case bytes.HasPrefix(payload, []byte{0x1f, 0x8b}):
		r, err := gzip.NewReader(bytes.NewReader(payload))
		if err != nil {
			return "", err
		}
		r.Multistream(false)
		raw, err = io.ReadAll(r)
		if err != nil {
			return "", err
		}
	case bytes.HasPrefix(payload, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		raw, err = decompressWith(payload, "xz", "-dc", "--single-stream")
	case bytes.HasPrefix(payload, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		// The kernel appends the uncompressed size (4 bytes) to the frame.
		raw, err = decompressWith(payload[:len(payload)-4], "zstd", "-dcq")
	default:
		return "", fmt.Errorf("payload compression % x not supported", payload[:4])
	}
	if err != nil {
		return "", err
	}
	if !hasPVHNote(raw) {
		return "", errors.New("the kernel has no PVH entry note")
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	tmp := cached + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		return "", err
	}
	return cached, os.Rename(tmp, cached)
}

func decompressWith(data []byte, tool string, args ...string) ([]byte, error) {
	path, err := exec.LookPath(tool)
	if err != nil {
		return nil, fmt.Errorf("%s is not installed", tool)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin = bytes.NewReader(data)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %v: %s", tool, err, errb.String())
	}
	return out.Bytes(), nil
}

// hasPVHNote reports whether an ELF kernel carries a Xen PVH entry note.
func hasPVHNote(raw []byte) bool {
	f, err := elf.NewFile(bytes.NewReader(raw))
	if err != nil {
		return false
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			continue
		}
		for len(data) >= 12 {
			nsz, dsz, typ := binary.LittleEndian.Uint32(data), binary.LittleEndian.Uint32(data[4:]), binary.LittleEndian.Uint32(data[8:])
			name := data[12:min(len(data), 12+int(nsz))]
			if typ == xenElfnotePhys32Entry && bytes.HasPrefix(name, []byte("Xen")) {
				return true
			}
			next := 12 + align4(int(nsz)) + align4(int(dsz))
			if next > len(data) {
				break
			}
			data = data[next:]
		}
	}
	return false
}

func align4(n int) int { return (n + 3) &^ 3 }
