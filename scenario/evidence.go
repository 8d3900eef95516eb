package scenario

import (
	"fmt"
	"unicode/utf8"
)

// MaxEvidence is the most a check's or step's evidence, or its message,
// keeps, in bytes: a check that returns more keeps its beginning and its
// end, with a note in between that says how much was cut. Reports stay
// readable, and within what XML tools accept (libxml2 refuses text nodes
// over 10 MB).
const MaxEvidence = 64 << 10

// BoundText keeps at most max bytes of s, plus a note that says how many
// bytes it cut: the first three quarters and the last quarter, cut at
// UTF-8 character boundaries. Reports use it for text that gathers many
// checks' evidence.
func BoundText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	head, tail := max*3/4, max/4
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	end := len(s) - tail
	for end < len(s) && !utf8.RuneStart(s[end]) {
		end++
	}
	cut := end - head
	return s[:head] + fmt.Sprintf("\n[… vtest cut %d of %d bytes (%s) here, to keep at most %d …]\n", cut, len(s), sizeOf(cut), max) + s[end:]
}

// sizeOf writes a byte count for people: 9.9 MiB, 12.0 KiB, 17 bytes.
func sizeOf(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
