// Package stacks finds the goroutines of a piece of work that does not
// return, for the report that abandons it.
package stacks

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// ID returns the ID of the calling goroutine, as tracebacks show
// it. It is used only to find a stuck check's goroutines for its report.
func ID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(b[:bytes.IndexByte(b, ' ')]), 10, 64)
	return id
}

// Go runs fn on a new goroutine and returns that goroutine's ID, for Of
// should fn never return.
func Go(fn func()) uint64 {
	id := make(chan uint64, 1)
	go func() {
		id <- ID()
		fn()
	}()
	return <-id
}

// Of returns the traceback of goroutine id and of every
// goroutine it started, directly or not ("created by … in goroutine N"):
// where a stuck check is stuck, also when it waits on work of its own
// goroutines (Node.Do runs code on another one).
func Of(id uint64) string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	blocks := strings.Split(string(buf), "\n\n")
	family := map[uint64]bool{id: true}
	var out []string
	for changed := true; changed; {
		changed = false
		for _, b := range blocks {
			g, parent := blockIDs(b)
			if family[g] || !family[parent] {
				continue
			}
			family[g], changed = true, true
		}
	}
	for _, b := range blocks {
		if g, _ := blockIDs(b); family[g] {
			out = append(out, strings.TrimSpace(b))
		}
	}
	if len(out) == 0 {
		return fmt.Sprintf("(goroutine %d has ended)", id)
	}
	return strings.Join(out, "\n\n")
}

// blockIDs reads a traceback block's goroutine ID and the ID of the
// goroutine that created it (0 if none is named).
func blockIDs(block string) (id, parent uint64) {
	first, _, _ := strings.Cut(block, "\n")
	if f := strings.Fields(first); len(f) >= 2 && f[0] == "goroutine" {
		id, _ = strconv.ParseUint(f[1], 10, 64)
	}
	if i := strings.LastIndex(block, " in goroutine "); i >= 0 {
		rest := block[i+len(" in goroutine "):]
		if j := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
			rest = rest[:j]
		}
		parent, _ = strconv.ParseUint(rest, 10, 64)
	}
	return id, parent
}

// Await runs fn on a goroutine of its own and returns its result. If ctx
// ends first and fn has not returned grace later, Await gives up on it:
// ok is false and stuck is the traceback of fn's goroutines (see Of).
func Await[T any](ctx context.Context, grace time.Duration, fn func() T) (result T, stuck string, ok bool) {
	done := make(chan T, 1)
	id := Go(func() { done <- fn() })
	select {
	case result = <-done:
		return result, "", true
	case <-ctx.Done():
	}
	select {
	case result = <-done:
		return result, "", true
	case <-time.After(grace):
		return result, Of(id), false
	}
}
