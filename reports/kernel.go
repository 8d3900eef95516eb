package reports

import (
	"regexp"
	"strings"
)

// kernelWarningRE matches the kernel log lines that mean the kernel
// complained: a WARN_ON splat, a BUG or oops, a register dump or stack
// trace, a leaked device reference, a kmemleak report, UBSAN.
var kernelWarningRE = regexp.MustCompile(`WARNING:|BUG:|Oops|RIP:|Call Trace:|unregister_netdevice: waiting for|kmemleak:|UBSAN:`)

// kernelExcerptLines bounds the excerpt of a kernel warning.
const kernelExcerptLines = 40

// KernelWarning finds the first kernel warning in a kernel log and returns
// the excerpt from that line on (at most 40 lines).
func KernelWarning(log string) (excerpt string, ok bool) {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	for i, l := range lines {
		if kernelWarningRE.MatchString(l) {
			end := min(len(lines), i+kernelExcerptLines)
			return strings.Join(lines[i:end], "\n"), true
		}
	}
	return "", false
}
