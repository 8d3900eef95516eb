// Package catalogue is the path walk's fault catalogue: small scenarios,
// each with one fault that stops traffic (a down trunk, a VNI mismatch, a
// wrong PVID, a missing route…) and the verdict the walk must give: the
// node, the interface and the cause of the first break. Two healthy cases
// show the walk finds no break where traffic flows. Each case's scenario
// has one check that runs the traffic, requires it to fail (pass when
// healthy) and requires the walk's verdict, so make kernel-check runs the
// catalogue in the VMs too (registered in the misconfigured suite).
package catalogue

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// Case is one entry of the catalogue.
type Case struct {
	// Fault is what is wrong, in words ("" for a healthy case).
	Fault string
	// Spec is the scenario, named walk-<slug>, with its one check.
	Spec *scenario.Spec
	// From and To are the traffic the fault stops: a ping of Size bytes
	// of payload (0: the default) from the node From to To (a node or an
	// address).
	From, To string
	Size     int
	// Node, Iface and Cause are the verdict: the first break names the
	// node and the interface ("" where the cause has none, such as a
	// missing route) as words, and contains Cause.
	Node, Iface, Cause string
	// Traffic, when set, is the failing check whose evidence gives the
	// verdict instead of the ping (a DNAT: the walk cannot see ports).
	Traffic scenario.CheckFunc
}

// Healthy reports whether the case has no fault.
func (c Case) Healthy() bool { return c.Fault == "" }

// CheckName is the name of every case's check.
const CheckName = "the walk names the break"

// Cases returns fresh definitions of every case, faults first.
func Cases() []Case {
	var out []Case
	for _, c := range []Case{
		trunkDown(), vniMismatch(), vxlanPort(), vxlanUnderlay(),
		wrongPVID(), vlanNotOnTrunk(), vlanIDMismatch(),
		stpState("listening", 1), stpState("learning", 2),
		learningFloodOff(), isolated(), mtuMismatch(),
		macvlanPrivate(), macvlanOtherLAN(), ipvlanOtherLAN(), bondAllDown(),
		noRoute(), forwardingOff(), wrongGateway(), returnPathMissing(), linkDownMidPath(),
		firewallDrop(), firewallReject(), rpFilter(),
		dnatWrongTarget(), dnatWrongPort(), masqueradeMissing(), vrfLeakMissing(),
		healthySwitches(), healthyOverlay(),
	} {
		c.Spec.Check(CheckName, c.check())
		out = append(out, c)
	}
	return out
}

// Diagnosis returns the line of a failed check's evidence that gives the
// verdict: the walk's first break, or what DNAT did.
func Diagnosis(evidence string) string {
	for _, l := range strings.Split(evidence, "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "first break: "); ok {
			return rest
		}
	}
	for _, l := range strings.Split(evidence, "\n") {
		if strings.HasPrefix(l, "DNAT at ") || strings.HasPrefix(l, "no DNAT at ") {
			return l
		}
	}
	return ""
}

// Judge says what is wrong with a diagnosis for the case, or "".
func (c Case) Judge(diagnosis string) string {
	if c.Healthy() {
		if diagnosis != "" {
			return "the walk breaks on a healthy network: " + diagnosis
		}
		return ""
	}
	var missing []string
	for _, w := range []string{c.Node, c.Iface} {
		if w != "" && !regexp.MustCompile(`(^|[^\w.-])`+regexp.QuoteMeta(w)+`($|[^\w-])`).MatchString(diagnosis) {
			missing = append(missing, fmt.Sprintf("%q", w))
		}
	}
	if !strings.Contains(diagnosis, c.Cause) {
		missing = append(missing, fmt.Sprintf("%q", c.Cause))
	}
	if len(missing) > 0 {
		return fmt.Sprintf("the diagnosis %q lacks %s", diagnosis, strings.Join(missing, ", "))
	}
	return ""
}

// check is the case's scenario check: the traffic fails (passes when
// healthy) and the walk names the break.
func (c Case) check() scenario.CheckFunc {
	traffic := c.Traffic
	if traffic == nil {
		opts := []assert.Option{assert.Timeout(300 * time.Millisecond)}
		if c.Size > 0 {
			opts = append(opts, assert.Size(c.Size))
		}
		traffic = assert.Reach(c.From, c.To, opts...)
	}
	refs, _ := scenario.RefsOf(traffic)
	return scenario.Declare(func(ctx context.Context, n *scenario.Network) scenario.Result {
		res := traffic(ctx, n)
		if res.Skip != "" {
			return res
		}
		if c.Healthy() {
			if res.Err != nil {
				return scenario.Result{Err: fmt.Errorf("the healthy network does not pass traffic: %w", res.Err), Evidence: res.Evidence}
			}
			to, err := target(n, c.From, c.To)
			if err != nil {
				return scenario.Result{Err: err}
			}
			w := assert.WalkPath(n.Node(c.From), to)
			if w.Break != "" {
				return scenario.Result{Err: fmt.Errorf("false diagnosis on a healthy network: %s", w.Break), Evidence: w.Evidence()}
			}
			return scenario.Result{Evidence: w.Evidence()}
		}
		if res.Err == nil {
			return scenario.Result{Err: fmt.Errorf("traffic passes through the fault (%s)", c.Fault), Evidence: res.Evidence}
		}
		d := Diagnosis(res.Evidence)
		if p := c.Judge(d); p != "" {
			return scenario.Result{Err: fmt.Errorf("%s: %s", c.Fault, p), Evidence: res.Evidence}
		}
		return scenario.Result{Evidence: fmt.Sprintf("%s → %s", c.Fault, d)}
	}, refs)
}

// target resolves a case's To from its From: an address, or a node's
// address as From sees it.
func target(n *scenario.Network, from, to string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(to); err == nil {
		return a, nil
	}
	nd, ok := n.Lookup(to)
	if !ok {
		return netip.Addr{}, fmt.Errorf("%q is neither an address nor a node of scenario %q", to, n.Spec().Name)
	}
	return n.Node(from).AddrFor(nd, false)
}
