package scenario

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// RED is a Random Early Detection queue (sch_red), the queue of an
// impairment's rate limit: once the average queue passes Min bytes,
// packets are dropped — or, with ECN, ECN-capable ones marked Congestion
// Experienced — with a chance growing to Probability at Max; past Max
// every one is. Like tc qdisc add ... red limit L min MIN max MAX avpkt A
// burst B probability P [ecn].
type RED struct {
	// Min and Max are average queue lengths in bytes; Max is required,
	// Min defaults to Max/3.
	Min, Max uint32
	// Limit is the real queue's hard limit in bytes (default 4×Max).
	Limit uint32
	// Avpkt is the average packet size in bytes (default 1000).
	Avpkt uint32
	// Burst is how many packets of Avpkt a burst may bring before the
	// average follows the queue (default (2×Min+Max)/(3×Avpkt), tc's).
	Burst uint32
	// Probability is the chance of a mark or drop at Max, in (0, 1]
	// (default 0.02).
	Probability float64
	// ECN marks ECN-capable packets instead of dropping them.
	ECN bool
}

// String renders the queue like tc does.
func (r RED) String() string {
	p := r.resolved()
	s := fmt.Sprintf("red limit %db min %db max %db avpkt %d burst %d probability %g", p.Limit, p.Min, p.Max, p.Avpkt, p.Burst, p.Probability)
	if r.ECN {
		s += " ecn"
	}
	return s
}

// resolved returns r with its defaults filled in.
func (r RED) resolved() RED {
	if r.Avpkt == 0 {
		r.Avpkt = 1000
	}
	if r.Min == 0 {
		r.Min = r.Max / 3
	}
	if r.Limit == 0 {
		r.Limit = uint32(min(4*uint64(r.Max), math.MaxUint32))
	}
	if r.Burst == 0 {
		r.Burst = uint32((2*uint64(r.Min) + uint64(r.Max)) / (3 * uint64(r.Avpkt)))
	}
	if r.Probability == 0 {
		r.Probability = 0.02
	}
	return r
}

// wlog is the weight of the queue average, 2^-Wlog, that lets a burst of
// Burst packets through before the average reaches Min (tc_red_eval_ewma);
// -1 when none does.
func (r RED) wlog() int {
	a := float64(r.Burst) + 1 - float64(r.Min)/float64(r.Avpkt)
	if a < 1 {
		return -1
	}
	w := 0.5
	for wlog := 1; wlog < 32; wlog, w = wlog+1, w/2 {
		if a <= (1-math.Pow(1-w, float64(r.Burst)))/w {
			return wlog
		}
	}
	return -1
}

// plog is log2 of (Max-Min)/Probability (tc_red_eval_P); -1 when out of
// range.
func (r RED) plog() int {
	d := float64(r.Max) - float64(r.Min)
	if d <= 0 {
		return -1
	}
	p := r.Probability / d
	for i := 0; i < 32; i++ {
		if p > 1 {
			return i
		}
		p *= 2
	}
	return -1
}

// problems checks the queue the way tc and the kernel (red_check_params)
// would, as problem and fix pairs.
func (r RED) problems() [][2]string {
	var out [][2]string
	bad := func(fix, problem string, args ...any) {
		out = append(out, [2]string{fmt.Sprintf(problem, args...), fix})
	}
	p := r.resolved()
	switch {
	case r.Max == 0:
		bad("set Max, the average queue in bytes past which every packet is marked or dropped", "RED has no Max")
		return out
	case p.Min >= p.Max:
		bad("use a Min below Max", "RED min %d bytes is not below max %d bytes", p.Min, p.Max)
		return out
	case p.Limit < p.Max:
		bad("use a Limit of at least Max (default 4×Max)", "RED limit %d bytes is below max %d bytes", p.Limit, p.Max)
	}
	if !(p.Probability > 0 && p.Probability <= 1) {
		bad("use a probability in (0, 1], e.g. 0.02", "RED probability %g is out of range", r.Probability)
		return out
	}
	w := p.wlog()
	if w < 0 {
		bad(fmt.Sprintf("use a Burst of at least %d packets", 1+p.Min/p.Avpkt), "RED burst %d packets is too small for min %d bytes of %d-byte packets", p.Burst, p.Min, p.Avpkt)
	} else if bitsLen(p.Max)+w >= 32 {
		bad("use a smaller Max or Burst", "RED max %d bytes is too large for the averaging weight 2^-%d", p.Max, w)
	}
	if p.plog() < 0 {
		bad("use a larger probability or a wider Min..Max", "RED probability %g over %d bytes is out of range", p.Probability, p.Max-p.Min)
	}
	return out
}

func bitsLen(x uint32) int {
	n := 0
	for ; x != 0; x >>= 1 {
		n++
	}
	return n
}

// redStab returns the idle-time damping table and its cell size, log2 of
// microseconds (tc_red_eval_idle_damping, in the kernel's microseconds):
// after an idle time the average decays as if packets of Avpkt had left
// at bytesPerSec.
func (r RED) redStab(wlog int, bytesPerSec uint64) ([256]byte, int) {
	var stab [256]byte
	xmit := 1e6 * float64(r.Avpkt) / float64(max(bytesPerSec, 1))
	lW := -math.Log(1-1/math.Pow(2, float64(wlog))) / xmit
	maxtime := 31 / lW
	clog := 0
	for ; clog < 31; clog++ {
		if maxtime/math.Pow(2, float64(clog)) < 512 {
			break
		}
	}
	for i := 1; i < 255; i++ {
		stab[i] = byte(min(float64(uint64(i)<<clog)*lW, 31))
	}
	stab[255] = 31
	return stab, clog
}

// Netlink attributes of sch_red (linux/pkt_sched.h).
const (
	tcaRedParms = 1
	tcaRedStab  = 2
	tcaRedMaxP  = 3
	tcRedECN    = 1
)

// addRED adds r as the child 10: of tbf 1: on the interface index, in the
// calling thread's namespace; bytesPerSec is the rate the queue drains at.
func addRED(index int, r RED, bytesPerSec uint64) error {
	return addREDAt(index, netlink.MakeHandle(1, 1), netlink.MakeHandle(0x10, 0), r, bytesPerSec)
}

func addREDAt(index int, parent, handle uint32, r RED, bytesPerSec uint64) error {
	p := r.resolved()
	wlog, plog := p.wlog(), p.plog()
	if wlog < 0 || plog < 0 {
		return fmt.Errorf("red: %s has no valid parameters", p)
	}
	stab, clog := p.redStab(wlog, bytesPerSec)
	parms := make([]byte, 16)
	binary.NativeEndian.PutUint32(parms[0:], p.Limit)
	binary.NativeEndian.PutUint32(parms[4:], p.Min)
	binary.NativeEndian.PutUint32(parms[8:], p.Max)
	parms[12], parms[13], parms[14] = byte(wlog), byte(plog), byte(clog)
	if p.ECN {
		parms[15] = tcRedECN
	}
	maxP := uint32(math.MaxUint32)
	if p.Probability < 1 {
		maxP = uint32(p.Probability * (1 << 32))
	}
	req := nl.NewNetlinkRequest(unix.RTM_NEWQDISC, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK)
	req.AddData(&nl.TcMsg{Family: nl.FAMILY_ALL, Ifindex: int32(index), Handle: handle, Parent: parent})
	req.AddData(nl.NewRtAttr(nl.TCA_KIND, nl.ZeroTerminated("red")))
	opts := nl.NewRtAttr(nl.TCA_OPTIONS, nil)
	opts.AddRtAttr(tcaRedParms, parms)
	opts.AddRtAttr(tcaRedStab, stab[:])
	opts.AddRtAttr(tcaRedMaxP, nl.Uint32Attr(maxP))
	req.AddData(opts)
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil {
		return fmt.Errorf("add %s: %w", p, err)
	}
	return nil
}
