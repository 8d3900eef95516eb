package scenario

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on names, in bytes. Names reach terminals, reports and file names:
// a capture file is <scenario>-<pid>-<n>-<node>-<interface>.pcapng, and
// Linux allows 255 bytes in a file name.
const (
	MaxScenarioName = 100
	MaxNodeName     = 64
	MaxItemName     = 200 // checks and steps
)

// nameProblem says what is wrong with a name people read on terminals and
// in reports, and the fix; "" when nothing is. Names must be valid UTF-8,
// at most max bytes, and free of control characters (NUL, ESC and the
// escape sequences it starts, CR, LF, TAB, DEL, C1) and of invisible
// formatting characters (bidirectional overrides, zero-width spaces).
func nameProblem(name string, max int) (problem, fix string) {
	if !utf8.ValidString(name) {
		return "is not valid UTF-8", "write the name in UTF-8"
	}
	if len(name) > max {
		return fmt.Sprintf("is %d bytes long; at most %d are allowed", len(name), max), fmt.Sprintf("use a name of at most %d bytes", max)
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r):
			return fmt.Sprintf("contains the control character %U", r), "remove it: names reach terminals and reports as they are"
		case unicode.Is(unicode.Cf, r):
			return fmt.Sprintf("contains the invisible formatting character %U", r), "remove it: it would change how terminals and reports show the text around it"
		}
	}
	return "", ""
}

// checkName reports a bad name of what ("scenario", "node #2", "check") to
// v, naming it safely; it returns whether the name is good.
func (v *validator) checkName(what, name string, max int) bool {
	problem, fix := nameProblem(name, max)
	if problem == "" {
		return true
	}
	v.add(what+" "+quoteName(name), "name %s", fix, problem)
	return false
}

// quoteName quotes a name for an error message: escaped as Go does, and
// cut after MaxScenarioName bytes.
func quoteName(name string) string {
	const keep = MaxScenarioName
	if len(name) <= keep {
		return strconv.Quote(name)
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return strconv.Quote(name[:cut]) + fmt.Sprintf("… (%d bytes)", len(name))
}

// Printable escapes what a terminal would act on in s (control characters
// other than newline and tab, invisible formatting characters, invalid
// UTF-8) the way Go quotes them, leaving the rest as it is. Reporters that
// write to a terminal pass names, messages and evidence through it.
func Printable(s string) string {
	unsafe := func(r rune) bool {
		return r != '\n' && r != '\t' && unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
	}
	safe := true
	for _, r := range s {
		if r == utf8.RuneError || unsafe(r) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case unsafe(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}
