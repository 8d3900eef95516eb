package reports

import (
	"fmt"
	"io"
	"strings"

	"github.com/vtest-dev/vtest/scenario"
)

// WriteDOT writes a scenario's topology as a Graphviz graph: nodes shaped by
// kind, one edge per link labelled with its interfaces and addresses.
func WriteDOT(w io.Writer, s *scenario.Spec) error {
	var b strings.Builder
	fmt.Fprintf(&b, "graph %q {\n  label=%q;\n", s.Name, s.Description)
	shapes := map[scenario.Kind]string{scenario.KindHost: "box", scenario.KindRouter: "ellipse", scenario.KindSwitch: "diamond"}
	for _, n := range s.Nodes() {
		label := n.Name()
		if out, ok := n.MasqueradeInterface(); ok {
			label += "\\nNAT out " + out
		}
		fmt.Fprintf(&b, "  %q [shape=%s, label=\"%s\\n(%s)\"];\n", n.Name(), shapes[n.Kind()], label, n.Kind())
	}
	for _, l := range s.Links() {
		a, z := l.Ends()
		fmt.Fprintf(&b, "  %q -- %q [label=%q];\n", a.Node, z.Node, linkLabel(l))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMermaid writes a scenario's topology as a Mermaid flowchart.
func WriteMermaid(w io.Writer, s *scenario.Spec) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	id := map[string]string{}
	for i, n := range s.Nodes() {
		id[n.Name()] = fmt.Sprintf("n%d", i)
		open, closing := "[", "]"
		switch n.Kind() {
		case scenario.KindRouter:
			open, closing = "((", "))"
		case scenario.KindSwitch:
			open, closing = "{", "}"
		}
		fmt.Fprintf(&b, "  %s%s\"%s (%s)\"%s\n", id[n.Name()], open, n.Name(), n.Kind(), closing)
	}
	for _, l := range s.Links() {
		a, z := l.Ends()
		fmt.Fprintf(&b, "  %s ---|\"%s\"| %s\n", id[a.Node], strings.ReplaceAll(linkLabel(l), "\"", "'"), id[z.Node])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func linkLabel(l *scenario.LinkSpec) string {
	a, z := l.Ends()
	label := fmt.Sprintf("%s — %s", orAuto(a.Interface), orAuto(z.Interface))
	if subs := l.Subnets(); len(subs) > 0 {
		label += " " + strings.Join(subs, ",")
	}
	return label
}

func orAuto(s string) string {
	if s == "" {
		return "auto"
	}
	return s
}
