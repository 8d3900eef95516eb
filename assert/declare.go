package assert

import (
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// reads is the set of options a check reads. A scenario check refuses the
// others when the scenario is validated, before anything is built: an
// option a check does not read would otherwise be ignored silently
// (Absent on a route lookup still wanting a route).
type reads uint32

// One bit per option, named after the function that sets it.
const (
	readsCount reads = 1 << iota
	readsInterval
	readsTimeout
	readsLoss
	readsSource
	readsVia
	readsIPv6
	readsPort
	readsWarmup
	readsSize
	readsAbsent
	readsExpect
	readsMAC
	readsGateway
	readsPathMTU
	readsUDP
	readsListen
	readsMbps
	readsFor
	readsVLAN
	readsJitter
	readsBecause
	readsMTULocked
	readsPMTUException
)

// optionFields names the option that sets each field of Options, in the
// order messages list them. A field missing here is not policed (a test
// keeps the table complete).
var optionFields = []struct {
	field, option string
	bit           reads
}{
	{"Count", "Count", readsCount},
	{"Interval", "Interval", readsInterval},
	{"Timeout", "Timeout", readsTimeout},
	{"Loss", "Loss", readsLoss},
	{"Source", "Source", readsSource},
	{"Interface", "Via", readsVia},
	{"IPv6", "IPv6", readsIPv6},
	{"Port", "Port", readsPort},
	{"Warmup", "Warmup", readsWarmup},
	{"Size", "Size", readsSize},
	{"Absent", "Absent", readsAbsent},
	{"Expect", "Expect", readsExpect},
	{"MAC", "MAC", readsMAC},
	{"Gateway", "Gateway", readsGateway},
	{"PathMTU", "PathMTU", readsPathMTU},
	{"UDP", "UDP", readsUDP},
	{"Listen", "Listen", readsListen},
	{"MinMbps", "Mbps", readsMbps},
	{"MaxMbps", "Mbps", readsMbps},
	{"Duration", "For", readsFor},
	{"VLAN", "VLAN", readsVLAN},
	{"Jitter", "Jitter", readsJitter},
	{"Because", "Because", readsBecause},
	{"MTULocked", "MTULocked", readsMTULocked},
	{"PMTUException", "PMTUException", readsPMTUException},
}

// The options each family of checks reads. IPv6 is read by every check
// given a node as target (it picks the node's IPv6 address).
const (
	pingReads       = readsCount | readsInterval | readsTimeout | readsLoss | readsSource | readsVia | readsIPv6 | readsSize | readsWarmup
	isolationReads  = readsCount | readsInterval | readsTimeout | readsIPv6 | readsBecause
	lossReads       = pingReads &^ readsLoss
	pmtuReads       = readsSize | readsPathMTU | readsTimeout | readsIPv6
	routeReads      = readsVia | readsGateway | readsSource | readsPathMTU | readsAbsent | readsIPv6 | readsMTULocked | readsPMTUException
	conntrackReads  = readsPort | readsAbsent | readsIPv6
	verdictReads    = readsExpect | readsListen | readsUDP | readsTimeout | readsIPv6
	connReads       = readsSource | readsTimeout | readsIPv6
	throughputReads = readsMbps | readsFor | readsPort | readsTimeout | readsIPv6
	spreadReads     = readsCount | readsPort | readsTimeout | readsIPv6
	traceReads      = readsCount | readsTimeout | readsIPv6
	hopReads        = readsTimeout | readsIPv6
	sourceReads     = readsPort | readsSource | readsTimeout | readsIPv6
	arpReads        = readsCount | readsInterval | readsTimeout | readsVia
	framesReads     = readsCount | readsExpect | readsTimeout
	linkReads       = readsExpect
	neighbourReads  = readsAbsent | readsExpect | readsMAC | readsIPv6
	fdbReads        = readsVia | readsAbsent | readsExpect | readsVLAN
	udpStreamReads  = readsMbps | readsFor | readsPort | readsSize | readsLoss | readsJitter | readsTimeout | readsIPv6
)

// names lists the options of a set, in the order of Options.
func (r reads) names() string {
	var s []string
	for _, f := range optionFields {
		if r&f.bit != 0 && !slices.Contains(s, f.option) {
			s = append(s, f.option)
		}
	}
	if len(s) == 0 {
		return "no options"
	}
	return strings.Join(s, ", ")
}

// given returns the options opts set, found by applying each to a zero
// Options and to one whose every field holds an unlikely value: a field
// that changes in either was set (Count(0) included).
func given(opts []Option) reads {
	var r reads
	for _, f := range opts {
		if f == nil {
			continue
		}
		var zero Options
		odd := oddOptions()
		f(&zero)
		f(&odd)
		z, o, oz, oo := reflect.ValueOf(zero), reflect.ValueOf(odd), reflect.ValueOf(Options{}), reflect.ValueOf(oddOptions())
		for _, of := range optionFields {
			if !z.FieldByName(of.field).Equal(oz.FieldByName(of.field)) || !o.FieldByName(of.field).Equal(oo.FieldByName(of.field)) {
				r |= of.bit
			}
		}
	}
	return r
}

// oddOptions returns Options whose every field holds a value no option
// sets by itself.
func oddOptions() Options {
	var o Options
	v := reflect.ValueOf(&o).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case f.Type() == reflect.TypeFor[netip.Addr]():
			f.Set(reflect.ValueOf(netip.MustParseAddr("fe80::7e57")))
		case f.Type() == reflect.TypeFor[time.Duration]():
			f.SetInt(-7357)
		case f.CanInt():
			f.SetInt(-7357)
		case f.CanFloat():
			f.SetFloat(-7357.5)
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.Kind() == reflect.String:
			f.SetString("\x00odd")
		}
	}
	return o
}

// declare makes a scenario check of this package one that Validate checks
// with the topology: the nodes, interfaces and targets it names, and the
// options it was given (each must be one it reads and in range). Options
// that name interfaces (Via on the check's node, MAC "node:iface") are
// checked too. name is the check's function ("Reach"); refs.Nodes[0], if
// any, is the node the check runs in. fixed are options the check adds
// itself (Port from a positional argument): only their range is checked.
func declare(name string, r reads, opts []Option, refs scenario.CheckRefs, fn scenario.CheckFunc, fixed ...Option) scenario.CheckFunc {
	return scenario.Declare(fn, optionRefs(name, r, opts, refs, fixed...))
}

// optionRefs adds to refs what the options given to a check name, and
// their problems; see declare.
func optionRefs(name string, r reads, opts []Option, refs scenario.CheckRefs, fixed ...Option) scenario.CheckRefs {
	if slices.IndexFunc(opts, func(o Option) bool { return o == nil }) >= 0 {
		refs.Problems = append(refs.Problems, scenario.CheckProblem{
			Problem: "assert." + name + " was given a nil option",
			Fix:     "pass options made by the assert package, like assert.Timeout(time.Second)",
		})
		return refs
	}
	if extra := given(opts) &^ r; extra != 0 {
		for _, opt := range strings.Split(extra.names(), ", ") {
			refs.Problems = append(refs.Problems, scenario.CheckProblem{
				Problem: "assert." + name + " does not read option " + opt,
				Fix:     "remove " + opt + "; assert." + name + " reads " + r.names(),
			})
		}
	}
	o, err := build(Options{}, slices.Concat(opts, fixed))
	if err != nil {
		refs.Problems = append(refs.Problems, scenario.CheckProblem{
			Problem: "assert." + name + ": " + err.Error(),
			Fix:     "use a value in range",
		})
	}
	if p := expectProblem(name, o.Expect); p != "" {
		refs.Problems = append(refs.Problems, scenario.CheckProblem{
			Problem: "assert." + name + ": Expect: " + p,
			Fix:     "pass one of the values the check's documentation lists",
		})
	}
	if err := validBecause(o.Because); err != nil {
		refs.Problems = append(refs.Problems, scenario.CheckProblem{
			Problem: "assert." + name + ": " + err.Error(),
			Fix:     "pass assert.Because(assert.NoRoute), (assert.Rejected) or (assert.Filtered)",
		})
	}
	if o.Interface != "" && r&readsVia != 0 && len(refs.Nodes) > 0 {
		refs.Ends = append(refs.Ends, refs.Nodes[0]+":"+o.Interface)
	}
	if o.MAC != "" && r&readsMAC != 0 {
		refs = merge(refs, macRef(name, o.MAC))
	}
	return refs
}

// macRef returns the refs of a MAC a check is given: none for an address,
// the interface for "node:iface", a problem for anything else.
func macRef(name, mac string) scenario.CheckRefs {
	if _, err := net.ParseMAC(mac); err == nil {
		return scenario.CheckRefs{}
	}
	if node, iface, ok := strings.Cut(mac, ":"); ok && node != "" && iface != "" {
		return ends(mac)
	}
	return scenario.CheckRefs{Problems: []scenario.CheckProblem{{
		Problem: "assert." + name + ": MAC " + strconv.Quote(mac) + " is neither a MAC address nor node:interface",
		Fix:     "write a MAC like 02:00:00:00:00:01, or node:iface for that interface's",
	}}}
}

// merge returns a's refs followed by b's.
func merge(a, b scenario.CheckRefs) scenario.CheckRefs {
	a.Nodes = append(a.Nodes, b.Nodes...)
	a.Ends = append(a.Ends, b.Ends...)
	a.Targets = append(a.Targets, b.Targets...)
	a.Problems = append(a.Problems, b.Problems...)
	return a
}

// seenAs returns the refs of SeenAs: want must be an address.
func seenAs(from string, to Target, want string) scenario.CheckRefs {
	refs := names([]string{from}, to)
	if _, err := netip.ParseAddr(want); err != nil {
		refs.Problems = append(refs.Problems, scenario.CheckProblem{
			Problem: "assert.SeenAs: want " + strconv.Quote(want) + " is not an IP address",
			Fix:     "write the source address the destination should see, like 192.0.2.1",
		})
	}
	return refs
}

// names returns the refs of a check run in nodes and aimed at targets
// (node names or addresses; other kinds of target name nothing to check).
func names(nodes []string, targets ...Target) scenario.CheckRefs {
	refs := scenario.CheckRefs{Nodes: nodes}
	for _, t := range targets {
		if s, ok := t.(string); ok {
			refs.Targets = append(refs.Targets, s)
		}
	}
	return refs
}

// ends returns the refs of a check of interfaces ("node:iface").
func ends(e ...string) scenario.CheckRefs { return scenario.CheckRefs{Ends: e} }

// wraps returns the refs of a check that runs another, and names node.
func wraps(check scenario.CheckFunc, nodes ...string) scenario.CheckRefs {
	refs, _ := scenario.RefsOf(check)
	refs.Nodes = append(slices.Clone(nodes), refs.Nodes...)
	return refs
}

// also adds refs to what a declared check names.
func also(check scenario.CheckFunc, more scenario.CheckRefs) scenario.CheckFunc {
	refs, _ := scenario.RefsOf(check)
	return scenario.Declare(check, merge(refs, more))
}

// routerIfaces returns the refs of a router and interfaces of it.
func routerIfaces(router string, ifaces []string) scenario.CheckRefs {
	refs := scenario.CheckRefs{Nodes: []string{router}}
	for _, i := range ifaces {
		refs.Ends = append(refs.Ends, router+":"+i)
	}
	return refs
}
