package scenario

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
)

// Impairment degrades the traffic leaving one end of a link. Delay, Jitter,
// Loss, Duplicate, Reorder and Corrupt use netem (FeatureNetem; scenarios
// using them are skipped on kernels without sch_netem). Rate alone uses a
// token bucket filter (FeatureTBF); with any netem field it is netem's own
// rate.
type Impairment struct {
	// Delay holds every packet back; Jitter varies it uniformly by ±Jitter.
	Delay, Jitter time.Duration
	// Loss, Duplicate, Reorder and Corrupt are percentages (0..100) of
	// packets dropped, sent twice, sent ahead of the delayed ones (needs
	// Delay) and given a flipped bit.
	Loss, Duplicate, Reorder, Corrupt float64
	// Rate limits the throughput, in bits per second (at least 8000).
	Rate uint64
}

func (im Impairment) netem() bool {
	return im.Delay > 0 || im.Jitter > 0 || im.Loss > 0 || im.Duplicate > 0 || im.Reorder > 0 || im.Corrupt > 0
}

// String renders the impairment like tc does.
func (im Impairment) String() string {
	var parts []string
	if im.Delay > 0 {
		parts = append(parts, "delay "+im.Delay.String())
	}
	if im.Jitter > 0 {
		parts = append(parts, "jitter "+im.Jitter.String())
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", im.Loss}, {"duplicate", im.Duplicate}, {"reorder", im.Reorder}, {"corrupt", im.Corrupt}} {
		if p.v > 0 {
			parts = append(parts, fmt.Sprintf("%s %g%%", p.name, p.v))
		}
	}
	if im.Rate > 0 {
		parts = append(parts, fmt.Sprintf("rate %dbit", im.Rate))
	}
	return strings.Join(parts, " ")
}

// DirectedImpairment is an impairment of the traffic leaving one end of a
// link, From ("node" or "node:interface" as in Link), or of both when From
// is empty.
type DirectedImpairment struct {
	From string
	Impairment
}

// Impairments returns the link's impairments as defined.
func (l *LinkSpec) Impairments() []DirectedImpairment { return l.impair }

// Impair degrades the traffic of the link in both directions.
func (l *LinkSpec) Impair(im Impairment) *LinkSpec {
	l.impair = append(l.impair, DirectedImpairment{Impairment: im})
	return l
}

// ImpairFrom degrades only the traffic leaving the end from, written as in
// Link ("node" or "node:interface"): it is applied on the egress of that
// end's interface.
func (l *LinkSpec) ImpairFrom(from string, im Impairment) *LinkSpec {
	if from == "" {
		from = "\x00" // never an end: reported by Validate
	}
	l.impair = append(l.impair, DirectedImpairment{From: from, Impairment: im})
	return l
}

func (l *LinkSpec) impairFeatures() []Feature {
	var out []Feature
	for _, li := range l.impair {
		if li.netem() {
			out = append(out, FeatureNetem)
		} else if li.Rate > 0 {
			out = append(out, FeatureTBF)
		}
	}
	return out
}

// planImpair is an impairment on the egress of one interface.
type planImpair struct {
	iface *planIface
	im    Impairment
}

func (v *validator) impairments(p *plan) {
	for _, pl := range p.links {
		obj := fmt.Sprintf("link %s:%s—%s:%s", pl.a.node.spec.name, pl.a.name, pl.b.node.spec.name, pl.b.name)
		done := map[*planIface]bool{}
		for _, li := range pl.spec.impair {
			im := li.Impairment
			ok := true
			bad := func(problem, fix string, args ...any) {
				v.add(obj, problem, fix, args...)
				ok = false
			}
			if im.Delay < 0 || im.Delay > time.Minute {
				bad("delay %v is out of range", "use a delay between 0 and 1m", im.Delay)
			}
			if im.Jitter < 0 || im.Jitter > im.Delay {
				bad("jitter %v is negative or larger than the delay %v", "use a jitter between 0 and Delay", im.Jitter, im.Delay)
			}
			for _, pc := range []struct {
				name string
				v    float64
			}{{"loss", im.Loss}, {"duplicate", im.Duplicate}, {"reorder", im.Reorder}, {"corrupt", im.Corrupt}} {
				if pc.v < 0 || pc.v > 100 || pc.v != pc.v {
					bad("%s %g%% is not a percentage", "use a value between 0 and 100", pc.name, pc.v)
				}
			}
			if im.Reorder > 0 && im.Delay == 0 {
				bad("reorder without delay reorders nothing", "set Delay: reordered packets are sent ahead of the delayed ones")
			}
			if im.Rate > 0 && im.Rate < 8000 {
				bad("rate %d bit/s is too low", "use at least 8000 bit/s", im.Rate)
			}
			if !im.netem() && im.Rate == 0 {
				bad("the impairment is empty", "set at least one field of Impairment")
			}
			var ends []*planIface
			switch {
			case li.From == "":
				ends = []*planIface{pl.a, pl.b}
			case li.From == pl.spec.a.String() || li.From == pl.a.node.spec.name+":"+pl.a.name:
				ends = []*planIface{pl.a}
			case li.From == pl.spec.b.String() || li.From == pl.b.node.spec.name+":"+pl.b.name:
				ends = []*planIface{pl.b}
			default:
				bad("ImpairFrom(%q) names neither end", fmt.Sprintf("use %q or %q", pl.spec.a, pl.spec.b), strings.ReplaceAll(li.From, "\x00", ""))
			}
			if len(ends) == 2 && pl.spec.a.String() == pl.spec.b.String() {
				// Both ends named alike (a node linked to itself
				// without interface names): still fine for both.
				ends = []*planIface{pl.a, pl.b}
			}
			for _, e := range ends {
				switch {
				case done[e]:
					bad("the traffic leaving %s:%s is impaired twice", "merge the two impairments into one", e.node.spec.name, e.name)
				case pl.spec.delay > 0:
					bad("has both Delay and an impairment", "put the delay into the Impairment")
				}
				done[e] = true
			}
			if !ok {
				continue
			}
			for _, e := range ends {
				e.node.impair = append(e.node.impair, planImpair{iface: e, im: im})
			}
		}
	}
}

func (n *Network) addImpairments(ctx context.Context) error {
	for _, pn := range n.plan.nodes {
		nd := n.nodes[pn.spec.name]
		for _, pi := range pn.impair {
			ifc := nd.Interface(pi.iface.name)
			if ifc == nil {
				return fmt.Errorf("node %q: no interface %q to impair", nd.name, pi.iface.name)
			}
			if err := nd.nl.QdiscAdd(impairQdisc(ifc.Index, pi.im)); err != nil {
				return fmt.Errorf("node %q: impair %s (%s): %w", nd.name, ifc.Name, pi.im, err)
			}
		}
	}
	return nil
}

// impairQdisc returns the root qdisc implementing im on a link.
func impairQdisc(index int, im Impairment) netlink.Qdisc {
	root := netlink.QdiscAttrs{LinkIndex: index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT}
	bytesPerSec := im.Rate / 8
	if im.netem() {
		return netlink.NewNetem(root, netlink.NetemQdiscAttrs{
			Latency:     uint32(im.Delay.Microseconds()),
			Jitter:      uint32(im.Jitter.Microseconds()),
			Loss:        float32(im.Loss),
			Duplicate:   float32(im.Duplicate),
			ReorderProb: float32(im.Reorder),
			CorruptProb: float32(im.Corrupt),
			Rate64:      bytesPerSec,
		})
	}
	// A bucket of 10 ms of traffic (at least two full-size frames) and a
	// queue of 50 ms more, like tc's "latency 50ms".
	burst := max(bytesPerSec/100, 2*1514+64)
	return &netlink.Tbf{
		QdiscAttrs: root,
		Rate:       bytesPerSec,
		Buffer:     netlink.Xmittime(bytesPerSec, uint32(burst)),
		Limit:      uint32(burst + bytesPerSec/20),
	}
}
