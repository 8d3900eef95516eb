package runner

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/reports"
	"github.com/vtest-dev/vtest/scenario"
)

// kernelLog follows the kernel log (/dev/kmsg) during a run and hands each
// scenario what the kernel logged while it ran. Scenarios that run at the
// same time share what was logged meanwhile (vtest kernel runs one at a
// time by default: the guest has one CPU).
type kernelLog struct {
	mu     sync.Mutex
	fd     int
	lines  []string         // logged since the earliest unfinished run started
	starts map[string][]int // scenario -> positions in lines where its unfinished runs started
	buf    []byte           // one record's read buffer, reused by every drain
}

func openKernelLog() (*kernelLog, error) {
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("kernel log: open /dev/kmsg: %w", err)
	}
	// Only what is logged from now on.
	if _, err := unix.Seek(fd, 0, unix.SEEK_END); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("kernel log: %w", err)
	}
	return &kernelLog{fd: fd, starts: map[string][]int{}}, nil
}

// drain reads every record logged so far. Each read of /dev/kmsg returns
// one record: "prio,seq,usec,flags;text\n" and continuation lines.
func (k *kernelLog) drain() {
	if k.buf == nil {
		k.buf = make([]byte, 16<<10)
	}
	for {
		n, err := unix.Read(k.fd, k.buf)
		switch {
		case errors.Is(err, unix.EPIPE):
			k.lines = append(k.lines, "(vtest: kernel log records were lost: the ring buffer wrapped)")
			continue
		case err != nil || n <= 0:
			return
		}
		k.lines = append(k.lines, formatKmsg(string(k.buf[:n])))
	}
}

// formatKmsg turns a /dev/kmsg record into a dmesg-like line:
// "[   12.345678] text".
func formatKmsg(rec string) string {
	head, text, ok := strings.Cut(rec, ";")
	if !ok {
		return strings.TrimRight(rec, "\n")
	}
	text, _, _ = strings.Cut(text, "\n") // continuation lines are key=value metadata
	fields := strings.Split(head, ",")
	if len(fields) >= 3 {
		if usec, err := strconv.ParseInt(fields[2], 10, 64); err == nil {
			return fmt.Sprintf("[%5d.%06d] %s", usec/1e6, usec%1e6, text)
		}
	}
	return text
}

func (k *kernelLog) start(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.drain()
	k.starts[name] = append(k.starts[name], len(k.lines))
}

// take returns what was logged since the earliest unfinished run of the
// scenario started.
func (k *kernelLog) take(name string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.drain()
	s := k.starts[name]
	if len(s) == 0 {
		return ""
	}
	from := s[0]
	k.starts[name] = s[1:]
	if len(k.starts[name]) == 0 {
		delete(k.starts, name)
	}
	log := ""
	if from < len(k.lines) {
		log = strings.Join(k.lines[from:], "\n") + "\n"
	}
	k.trim()
	return log
}

// trim drops the lines no unfinished run needs, so a long run keeps only
// what was logged since its earliest running scenario started.
func (k *kernelLog) trim() {
	keep := len(k.lines)
	for _, s := range k.starts {
		keep = min(keep, s[0])
	}
	if keep == 0 {
		return
	}
	k.lines = append(k.lines[:0:0], k.lines[keep:]...)
	for name, s := range k.starts {
		for i := range s {
			s[i] -= keep
		}
		k.starts[name] = s
	}
}

func (k *kernelLog) close() { unix.Close(k.fd) }

// amend puts the kernel log into the outcome and fails a passed scenario
// during which the kernel logged a warning, with the excerpt: a passing
// check is not a pass when the kernel complained.
func (k *kernelLog) amend(s *scenario.Spec, o scenario.Outcome) scenario.Outcome {
	o.KernelLog = k.take(s.Name)
	if excerpt, ok := reports.KernelWarning(o.KernelLog); ok && o.Status == scenario.Pass {
		o.Status, o.Step = scenario.Fail, "kernel"
		o.Message = "the kernel logged a warning while the scenario ran:\n" + excerpt
	}
	return o
}
