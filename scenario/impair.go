package scenario

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vtest-dev/vtest/internal/nsx"
)

// Impairment degrades the traffic leaving one end of a link. Delay, Jitter,
// Loss, Duplicate, Reorder, Corrupt, their correlations, Gap and Limit use
// netem (FeatureNetem; scenarios using them are skipped on kernels without
// sch_netem). Rate alone uses a token bucket filter (FeatureTBF), which
// Buffer, PeakRate, MinBurst, QueueBytes and RED tune; with any netem field
// Rate is netem's own rate and the tbf options are refused.
type Impairment struct {
	// Delay holds every packet back; Jitter varies it uniformly by ±Jitter.
	Delay, Jitter time.Duration
	// Loss, Duplicate, Reorder and Corrupt are percentages (0..100) of
	// packets dropped, sent twice, sent ahead of the delayed ones (needs
	// Delay) and given a flipped bit.
	Loss, Duplicate, Reorder, Corrupt float64
	// DelayCorrelation, LossCorrelation, DuplicateCorrelation,
	// ReorderCorrelation and CorruptCorrelation (percentages, 0..100) tie
	// each packet's random draw to the previous packet's, like tc's
	// "loss 50% 25%": at 100 every packet draws what the first drew. Each
	// needs its own field set (DelayCorrelation needs Jitter).
	DelayCorrelation, LossCorrelation, DuplicateCorrelation, ReorderCorrelation, CorruptCorrelation float64
	// Gap restricts Reorder to every Gap-th packet (the others are
	// delayed), like tc's "reorder 25% gap 5". Needs Reorder.
	Gap uint32
	// Limit is netem's queue in packets (0: the kernel's 1000); packets
	// arriving to a full queue are dropped.
	Limit uint32
	// Rate limits the throughput, in bits per second (at least 8000).
	Rate uint64
	// Buffer is tbf's bucket in bytes (tc's burst): how much may leave at
	// once at line speed after an idle time. Default: 10 ms of Rate, at
	// least two full-size frames. At least 1514.
	Buffer uint32
	// PeakRate, in bits per second and above Rate, bounds how fast the
	// bucket may empty; MinBurst is the peak bucket in bytes (tc's mtu;
	// default 2048, at least 1514). MinBurst needs PeakRate.
	PeakRate uint64
	MinBurst uint32
	// QueueBytes is tbf's queue in bytes (tc's limit): what waits for
	// tokens; packets beyond it are dropped. Default: Buffer plus 50 ms
	// of Rate.
	QueueBytes uint32
	// RED replaces tbf's FIFO queue by a Random Early Detection queue
	// (FeatureRED), which drops — or with ECN marks — packets early as
	// the queue grows. Needs Rate: without a rate limit no queue builds.
	RED *RED
}

func (im Impairment) netem() bool {
	return im.Delay > 0 || im.Jitter > 0 || im.Loss > 0 || im.Duplicate > 0 || im.Reorder > 0 || im.Corrupt > 0 ||
		im.DelayCorrelation > 0 || im.LossCorrelation > 0 || im.DuplicateCorrelation > 0 || im.ReorderCorrelation > 0 ||
		im.CorruptCorrelation > 0 || im.Gap > 0 || im.Limit > 0
}

// tbfOptions reports whether a tbf option other than Rate is set.
func (im Impairment) tbfOptions() bool {
	return im.Buffer > 0 || im.PeakRate > 0 || im.MinBurst > 0 || im.QueueBytes > 0 || im.RED != nil
}

// features returns the kernel features the impairment needs.
func (im Impairment) features() []Feature {
	switch {
	case im.netem():
		return []Feature{FeatureNetem}
	case im.RED != nil:
		return []Feature{FeatureTBF, FeatureRED}
	case im.Rate > 0:
		return []Feature{FeatureTBF}
	}
	return nil
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
	if im.DelayCorrelation > 0 {
		parts = append(parts, fmt.Sprintf("delay correlation %g%%", im.DelayCorrelation))
	}
	for _, p := range im.percentages() {
		if p.v > 0 {
			parts = append(parts, fmt.Sprintf("%s %g%%", p.name, p.v))
		}
		if p.corr > 0 {
			parts = append(parts, fmt.Sprintf("%s correlation %g%%", p.name, p.corr))
		}
	}
	for _, p := range []struct {
		name string
		v    uint64
		unit string
	}{{"gap", uint64(im.Gap), ""}, {"limit", uint64(im.Limit), ""}, {"rate", im.Rate, "bit"}, {"burst", uint64(im.Buffer), "b"},
		{"peakrate", im.PeakRate, "bit"}, {"minburst", uint64(im.MinBurst), "b"}, {"limit", uint64(im.QueueBytes), "b"}} {
		if p.v > 0 {
			parts = append(parts, fmt.Sprintf("%s %d%s", p.name, p.v, p.unit))
		}
	}
	if im.RED != nil {
		parts = append(parts, im.RED.String())
	}
	return strings.Join(parts, " ")
}

// percentage is one probability of an impairment with its correlation.
type percentage struct {
	name    string
	v, corr float64
}

func (im Impairment) percentages() []percentage {
	return []percentage{{"loss", im.Loss, im.LossCorrelation}, {"duplicate", im.Duplicate, im.DuplicateCorrelation},
		{"reorder", im.Reorder, im.ReorderCorrelation}, {"corrupt", im.Corrupt, im.CorruptCorrelation}}
}

// problems returns what is wrong with the impairment, as problem and fix
// pairs: the one validation of links' impairments and of SetImpairment.
func (im Impairment) problems() [][2]string {
	var out [][2]string
	bad := func(fix, problem string, args ...any) {
		out = append(out, [2]string{fmt.Sprintf(problem, args...), fix})
	}
	if im.Delay < 0 || im.Delay > time.Minute {
		bad("use a delay between 0 and 1m", "delay %v is out of range", im.Delay)
	}
	if im.Jitter < 0 || im.Jitter > im.Delay {
		bad("use a jitter between 0 and Delay", "jitter %v is negative or larger than the delay %v", im.Jitter, im.Delay)
	}
	isPercent := func(v float64) bool { return v >= 0 && v <= 100 }
	if !isPercent(im.DelayCorrelation) {
		bad("use a value between 0 and 100", "delay correlation %g%% is not a percentage", im.DelayCorrelation)
	} else if im.DelayCorrelation > 0 && im.Jitter == 0 {
		bad("set Jitter: the correlation ties each packet's jitter to the previous one's", "delay correlation without jitter correlates nothing")
	}
	for _, pc := range im.percentages() {
		if !isPercent(pc.v) {
			bad("use a value between 0 and 100", "%s %g%% is not a percentage", pc.name, pc.v)
		}
		if !isPercent(pc.corr) {
			bad("use a value between 0 and 100", "%s correlation %g%% is not a percentage", pc.name, pc.corr)
		} else if pc.corr > 0 && pc.v == 0 {
			bad(fmt.Sprintf("set the %s percentage the correlation applies to", pc.name), "%s correlation without %s correlates nothing", pc.name, pc.name)
		}
	}
	if im.Reorder > 0 && im.Delay == 0 {
		bad("set Delay: reordered packets are sent ahead of the delayed ones", "reorder without delay reorders nothing")
	}
	if im.Gap > 0 && im.Reorder == 0 {
		bad("set Reorder: Gap picks every Gap-th packet for it", "gap without reorder reorders nothing")
	}
	if im.Rate > 0 && im.Rate < 8000 {
		bad("use at least 8000 bit/s", "rate %d bit/s is too low", im.Rate)
	}
	if !im.netem() && im.Rate == 0 {
		if im.tbfOptions() {
			bad("set Rate: Buffer, PeakRate, MinBurst, QueueBytes and RED shape tbf's rate limit", "tbf options without a rate")
		} else {
			bad("set at least one field of Impairment", "the impairment is empty")
		}
	}
	if im.netem() && im.tbfOptions() {
		bad("drop Buffer, PeakRate, MinBurst, QueueBytes and RED, or the netem fields: with netem, Rate is netem's own (no bucket, no RED)",
			"tbf options (%s) with netem fields", im.tbfNames())
	}
	out = append(out, im.tbfProblems()...)
	if im.RED != nil {
		out = append(out, im.RED.problems()...)
	}
	return out
}

// tbfNames lists the tbf options set.
func (im Impairment) tbfNames() string {
	var n []string
	for _, o := range []struct {
		name string
		set  bool
	}{{"Buffer", im.Buffer > 0}, {"PeakRate", im.PeakRate > 0}, {"MinBurst", im.MinBurst > 0}, {"QueueBytes", im.QueueBytes > 0}, {"RED", im.RED != nil}} {
		if o.set {
			n = append(n, o.name)
		}
	}
	return strings.Join(n, ", ")
}

// minFrame is the largest Ethernet frame of a 1500-byte MTU: a tbf bucket
// smaller than it drops every full-size packet.
const minFrame = 1514

// tbfProblems checks the token bucket's sizes.
func (im Impairment) tbfProblems() [][2]string {
	var out [][2]string
	bad := func(fix, problem string, args ...any) {
		out = append(out, [2]string{fmt.Sprintf(problem, args...), fix})
	}
	if im.Buffer > 0 && im.Buffer < minFrame {
		bad("use at least 1514 bytes: a frame larger than the bucket never leaves", "buffer %d bytes holds no full-size frame", im.Buffer)
	}
	if im.Rate >= 8000 && float64(im.Buffer)/float64(im.Rate/8) > 60 {
		bad("use a bucket that drains within a minute at the rate", "buffer %d bytes takes over a minute at %d bit/s", im.Buffer, im.Rate)
	}
	if im.PeakRate > 0 && im.PeakRate <= im.Rate {
		bad("use a peak rate above Rate, or none", "peak rate %d bit/s is not above the rate %d bit/s", im.PeakRate, im.Rate)
	}
	if im.MinBurst > 0 && im.PeakRate == 0 {
		bad("set PeakRate: MinBurst is the peak rate's bucket", "min burst without a peak rate")
	}
	if im.MinBurst > 0 && im.MinBurst < minFrame {
		bad("use at least 1514 bytes: a frame larger than the peak bucket never leaves", "min burst %d bytes holds no full-size frame", im.MinBurst)
	}
	if im.PeakRate > 0 && float64(im.MinBurst)/float64(im.PeakRate/8) > 60 {
		bad("use a smaller min burst", "min burst %d bytes takes over a minute at the peak rate", im.MinBurst)
	}
	if im.QueueBytes > 0 && im.QueueBytes < minFrame {
		bad("use at least 1514 bytes", "queue of %d bytes holds no full-size frame", im.QueueBytes)
	}
	return out
}

// validateImpairment adds the impairment's problems to obj and reports
// whether it had none.
func (v *validator) validateImpairment(obj string, im Impairment) bool {
	ps := im.problems()
	for _, p := range ps {
		v.add(obj, "%s", p[1], p[0])
	}
	return len(ps) == 0
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
		out = append(out, li.features()...)
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
			ok := v.validateImpairment(obj, im)
			bad := func(problem, fix string, args ...any) {
				v.add(obj, problem, fix, args...)
				ok = false
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
			if err := nd.impair(ifc.Index, pi.im, false); err != nil {
				return fmt.Errorf("node %q: impair %s (%s): %w", nd.name, ifc.Name, pi.im, err)
			}
		}
	}
	return nil
}

// impair installs im on the egress of the interface index: its root qdisc
// and, for RED, RED as tbf's child. replace replaces an impairment in
// place; a RED child is removed or added by replacing the whole tree.
func (nd *Node) impair(index int, im Impairment, replace bool) error {
	q := impairQdisc(index, im)
	if replace {
		if err := nd.clearImpairment(index, im); err != nil {
			return err
		}
		if err := nd.nl.QdiscReplace(q); err != nil {
			return err
		}
	} else if err := nd.nl.QdiscAdd(q); err != nil {
		return err
	}
	if im.RED != nil {
		return nsx.Do(nd.ns, func() error { return addRED(index, *im.RED, im.Rate/8) })
	}
	return nil
}

// clearImpairment deletes the impairment on index before im replaces it,
// when the two are not one qdisc changed in place: a tbf keeps its RED
// child across a change, so a tree with RED, or one getting RED, is
// deleted first.
func (nd *Node) clearImpairment(index int, im Impairment) error {
	l, err := nd.nl.LinkByIndex(index)
	if err != nil {
		return err
	}
	qs, err := nd.nl.QdiscList(l)
	if err != nil {
		return err
	}
	child := false
	var root netlink.Qdisc
	for _, q := range qs {
		switch {
		case q.Attrs().Parent == netlink.HANDLE_ROOT && q.Attrs().Handle == netlink.MakeHandle(1, 0):
			root = q
		case q.Attrs().Parent == netlink.MakeHandle(1, 1) && q.Type() == "red":
			child = true
		}
	}
	if root != nil && (child || im.RED != nil) {
		return nd.nl.QdiscDel(root)
	}
	return nil
}

// impairQdisc returns the root qdisc implementing im on a link.
func impairQdisc(index int, im Impairment) netlink.Qdisc {
	root := netlink.QdiscAttrs{LinkIndex: index, Handle: netlink.MakeHandle(1, 0), Parent: netlink.HANDLE_ROOT}
	bytesPerSec := im.Rate / 8
	if im.netem() {
		return netlink.NewNetem(root, netlink.NetemQdiscAttrs{
			Latency:       uint32(im.Delay.Microseconds()),
			Jitter:        uint32(im.Jitter.Microseconds()),
			Loss:          float32(im.Loss),
			Duplicate:     float32(im.Duplicate),
			ReorderProb:   float32(im.Reorder),
			CorruptProb:   float32(im.Corrupt),
			Rate64:        bytesPerSec,
			DelayCorr:     float32(im.DelayCorrelation),
			LossCorr:      float32(im.LossCorrelation),
			DuplicateCorr: float32(im.DuplicateCorrelation),
			ReorderCorr:   float32(im.ReorderCorrelation),
			CorruptCorr:   float32(im.CorruptCorrelation),
			Gap:           im.Gap,
			Limit:         im.Limit,
		})
	}
	// A bucket of 10 ms of traffic (at least two full-size frames) and a
	// queue of 50 ms more, like tc's "latency 50ms".
	burst := max(bytesPerSec/100, 2*1514+64)
	if im.Buffer > 0 {
		burst = uint64(im.Buffer)
	}
	limit := uint32(min(burst+bytesPerSec/20, 1<<32-1))
	if im.QueueBytes > 0 {
		limit = im.QueueBytes
	}
	t := &netlink.Tbf{
		QdiscAttrs: root,
		Rate:       bytesPerSec,
		Buffer:     netlink.Xmittime(bytesPerSec, uint32(burst)),
		Limit:      limit,
	}
	if im.PeakRate > 0 {
		t.Peakrate = im.PeakRate / 8
		t.Minburst = im.MinBurst
		if t.Minburst == 0 {
			t.Minburst = 2048
		}
	}
	return t
}
