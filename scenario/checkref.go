package scenario

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
)

// CheckRefs is what a check names in its scenario, so that Validate refuses
// a mistake in a check before anything is built, as it does for the
// built-in actions of steps. The checks of package assert declare theirs;
// a check of your own may too, with Declare.
type CheckRefs struct {
	// Nodes are the names of the nodes the check runs in or reads.
	Nodes []string
	// Ends are interfaces, written "node:iface".
	Ends []string
	// Targets are what the check aims at: node names or IP addresses.
	Targets []string
	// Problems are mistakes the check found in its own arguments (an
	// option it does not read, a value out of range). Validate reports
	// each with the scenario and the check's name.
	Problems []CheckProblem
}

// CheckProblem is one mistake in a check's arguments, with its fix.
type CheckProblem struct {
	Problem string
	Fix     string
}

// Declare returns check as a check that names refs: Validate refuses the
// scenario if a node, interface or target it names does not exist, or if
// refs holds problems. The returned check runs check unchanged.
func Declare(check CheckFunc, refs CheckRefs) CheckFunc {
	return (&declared{check: check, refs: refs}).run
}

// RefsOf returns what a check made with Declare names, and whether it was
// made with Declare. A check that wraps others (Eventually, Counted…)
// declares the refs of the checks it runs as its own.
func RefsOf(check CheckFunc) (CheckRefs, bool) {
	if check == nil || reflect.ValueOf(check).Pointer() != declaredRun {
		return CheckRefs{}, false
	}
	// A method value of (*declared).run answers a query context with its
	// refs instead of running: it is this package's own code, so asking
	// it runs nothing of the user's.
	var q refsQuery
	check(context.WithValue(context.Background(), refsQueryKey{}, &q), nil)
	return q.refs, q.answered
}

// declared is a check with the refs it names.
type declared struct {
	check CheckFunc
	refs  CheckRefs
}

type refsQueryKey struct{}

type refsQuery struct {
	refs     CheckRefs
	answered bool
}

func (d *declared) run(ctx context.Context, n *Network) Result {
	if q, ok := ctx.Value(refsQueryKey{}).(*refsQuery); ok && n == nil {
		q.refs, q.answered = d.refs, true
		return Result{}
	}
	if d.check == nil {
		return Result{Err: fmt.Errorf("check has no function")}
	}
	return d.check(ctx, n)
}

// declaredRun is the code of every method value (*declared).run, which is
// how RefsOf tells a declared check from any other function: method
// values of one method share their code, whatever the receiver and
// wherever they are made (unlike function literals, which inlining may
// copy).
var declaredRun = reflect.ValueOf((&declared{}).run).Pointer()

// Referrer is implemented by actions of other packages (assert's Deliver
// and MarkCounters) to name what they use: Validate checks it as it checks
// the arguments of the built-in actions.
type Referrer interface {
	Refs() CheckRefs
}

// checkRefs validates what a check names against the plan.
func (v *validator) checkRefs(p *plan, obj string, check CheckFunc) {
	if refs, ok := RefsOf(check); ok {
		v.refs(p, obj, refs)
	}
}

// refs validates what a check or an action names against the plan.
func (v *validator) refs(p *plan, obj string, refs CheckRefs) {
	for _, name := range refs.Nodes {
		v.node(p, obj, name)
	}
	for _, end := range refs.Ends {
		v.checkEnd(p, obj, end)
	}
	for _, t := range refs.Targets {
		if _, err := netip.ParseAddr(t); err == nil || p.node(t) != nil {
			continue
		}
		v.add(obj, "target %q is neither an IP address nor a node", "name a node ("+p.nodeNames()+") or write an address like 10.0.0.1", t)
	}
	for _, pr := range refs.Problems {
		v.add(obj, "%s", pr.Fix, pr.Problem)
	}
}

// checkEnd validates an interface a check names: as a step's, and lo, which
// every node has, is allowed too.
func (v *validator) checkEnd(p *plan, obj, end string) {
	if node, iface, ok := strings.Cut(end, ":"); ok && iface == "lo" {
		v.node(p, obj, node)
		return
	}
	v.end(p, obj, end)
}

func (p *plan) nodeNames() string {
	s := make([]string, 0, len(p.nodes))
	for _, pn := range p.nodes {
		s = append(s, pn.spec.name)
	}
	if len(s) == 0 {
		return "the scenario has none"
	}
	return strings.Join(s, ", ")
}

// ValidateCheck validates what a check made with Declare names against the
// network's definition, as Validate does for a scenario's checks: the
// direct form for go test (assert.Check calls it). A check not made with
// Declare names nothing to validate, and neither does a nil network.
func (n *Network) ValidateCheck(check CheckFunc) error {
	if n == nil {
		return nil
	}
	v := &validator{s: n.spec, direct: true}
	v.checkRefs(n.plan, "check", check)
	return v.err()
}
