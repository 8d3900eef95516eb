package reports

import (
	"fmt"
	"io"
	"strings"

	"github.com/vtest-dev/vtest/scenario"
)

// WriteKconfig writes the kernel config fragment the scenarios need (for
// scripts/kconfig/merge_config.sh): the base options, then each option
// once, with the scenarios that need it. Options are set to y.
func WriteKconfig(w io.Writer, specs []*scenario.Spec) error {
	var b strings.Builder
	b.WriteString("# Kernel config fragment for vtest scenarios (merge with scripts/kconfig/merge_config.sh).\n")
	b.WriteString("# network namespaces, IPv4, packet sockets\n")
	seen := map[string]bool{}
	for _, o := range scenario.BaseKconfig {
		seen[o] = true
		fmt.Fprintf(&b, "%s=y\n", o)
	}
	var order []string
	users := map[string][]string{}
	for _, s := range specs {
		for _, o := range s.Kconfig() {
			if seen[o] {
				continue
			}
			if len(users[o]) == 0 {
				order = append(order, o)
			}
			if u := users[o]; len(u) == 0 || u[len(u)-1] != s.Name {
				users[o] = append(u, s.Name)
			}
		}
	}
	last := ""
	for _, o := range order {
		if u := strings.Join(users[o], ", "); u != last {
			fmt.Fprintf(&b, "# %s\n", u)
			last = u
		}
		fmt.Fprintf(&b, "%s=y\n", o)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
