package assert

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/vtest-dev/vtest/scenario"
)

// Verdict is how an attempt to reach a destination ended: the one answer
// every check of "what happened to this connection (or probe)?" gives and
// takes: TCPAttempt, PortVerdict, Firewall, ConnectOutcome, PortForwarded,
// Isolated and NoReach (Because). The results that carry one also say how
// long the attempt took, and which ICMP error answered (ICMPError).
type Verdict string

// The verdicts.
const (
	// Allowed: the connection was established (TCP), the datagram was
	// answered (UDP) or the echo request was (ICMP).
	Allowed Verdict = "allowed"
	// Refused: a TCP reset, or ICMP port unreachable from the destination
	// itself: nothing listens there (or a reject that looks exactly like
	// it).
	Refused Verdict = "refused"
	// Rejected: an ICMP error from anyone else, or of another kind (admin
	// prohibited, host unreachable, …); the ICMPError says which and from
	// whom.
	Rejected Verdict = "rejected"
	// Filtered: nothing came back before the timeout (a silent drop), or
	// the source's own firewall dropped it.
	Filtered Verdict = "filtered"
	// NoRoute: the source could not send: it has no route (or an
	// unreachable, blackhole or prohibit one), or the kernel refused with
	// "network/host unreachable" without any ICMP error arriving.
	NoRoute Verdict = "no route"
)

// verdicts lists every verdict, in the order messages list them.
var verdicts = []Verdict{Allowed, Refused, Rejected, Filtered, NoRoute}

// validVerdict reports whether v is one of the verdicts, or says which are.
func validVerdict(v Verdict) error {
	for _, w := range verdicts {
		if v == w {
			return nil
		}
	}
	return fmt.Errorf("verdict %q is not one of %s", string(v), verdictNames())
}

func verdictNames() string {
	s := make([]string, len(verdicts))
	for i, v := range verdicts {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// ICMPError is an ICMP (or ICMPv6) error that answered an attempt: its
// type and code, and who sent it.
type ICMPError struct {
	From       netip.Addr
	V6         bool
	Type, Code int
}

// String names the error and its sender, e.g. "ICMP destination
// unreachable (port unreachable) from 10.0.2.2".
func (e *ICMPError) String() string {
	return fmt.Sprintf("ICMP %s from %s", e.name(), e.From)
}

// portUnreachable reports whether e is a (ICMPv6: port) port unreachable.
func (e *ICMPError) portUnreachable() bool {
	if e.V6 {
		return e.Type == int(ipv6.ICMPTypeDestinationUnreachable) && e.Code == 4
	}
	return e.Type == int(ipv4.ICMPTypeDestinationUnreachable) && e.Code == 3
}

// Verdict is what e says of an attempt to reach dst: a port unreachable
// from dst itself is Refused (nothing listens there), anything else is
// Rejected.
func (e *ICMPError) Verdict(dst netip.Addr) Verdict {
	if e.portUnreachable() && e.From == dst {
		return Refused
	}
	return Rejected
}

func (e *ICMPError) name() string {
	if e.V6 {
		switch ipv6.ICMPType(e.Type) {
		case ipv6.ICMPTypeDestinationUnreachable:
			names := map[int]string{0: "no route", 1: "administratively prohibited", 3: "address unreachable", 4: "port unreachable", 5: "source address failed policy", 6: "reject route"}
			if n, ok := names[e.Code]; ok {
				return "destination unreachable (" + n + ")"
			}
			return fmt.Sprintf("destination unreachable (code %d)", e.Code)
		case ipv6.ICMPTypeTimeExceeded:
			return "time exceeded"
		case ipv6.ICMPTypePacketTooBig:
			return "packet too big"
		}
		return fmt.Sprintf("%v code %d", ipv6.ICMPType(e.Type), e.Code)
	}
	switch ipv4.ICMPType(e.Type) {
	case ipv4.ICMPTypeDestinationUnreachable:
		return "destination unreachable (" + unreachName(e.Code) + ")"
	case ipv4.ICMPTypeTimeExceeded:
		return "time exceeded"
	}
	return fmt.Sprintf("%v code %d", ipv4.ICMPType(e.Type), e.Code)
}

// verdictOf classifies how an attempt to reach dst ended from the socket's
// error (nil: it got through) and the ICMP error that answered it (nil:
// none), with a detail for the evidence. ok is false when the socket's
// error says nothing of the network (the attempt itself failed).
func verdictOf(sockErr error, icmpErr *ICMPError, dst netip.Addr, udp bool) (v Verdict, detail string, ok bool) {
	switch {
	case sockErr == nil:
		return Allowed, "", true
	case icmpErr != nil:
		return icmpErr.Verdict(dst), "", true
	case errors.Is(sockErr, syscall.ECONNREFUSED):
		if udp {
			return Refused, "", true
		}
		return Refused, "TCP reset", true
	case errors.Is(sockErr, syscall.ENETUNREACH), errors.Is(sockErr, syscall.EHOSTUNREACH), errors.Is(sockErr, syscall.EACCES):
		return NoRoute, "by the source's own routing: " + sockErr.Error(), true
	case errors.Is(sockErr, syscall.EPERM):
		return Filtered, "dropped by the source's own firewall: " + sockErr.Error(), true
	case isTimeout(sockErr), errors.Is(sockErr, context.DeadlineExceeded), errors.Is(sockErr, os.ErrDeadlineExceeded):
		return Filtered, "nothing came back", true
	}
	return "", "", false
}

// verdictRefs adds to a check's refs a problem when want is not a verdict,
// so that Validate refuses it before anything is built.
func verdictRefs(name string, refs scenario.CheckRefs, want Verdict) scenario.CheckRefs {
	if err := validVerdict(want); err != nil {
		refs.Problems = append(refs.Problems, scenario.CheckProblem{
			Problem: "assert." + name + ": " + err.Error(),
			Fix:     "use a Verdict: assert.Allowed, Refused, Rejected, Filtered or NoRoute",
		})
	}
	return refs
}

// Because makes NoReach (Isolated) require why the destination is not
// reached: NoRoute (the source has no route), Rejected (an ICMP error
// answered, e.g. an nft reject), or Filtered (silence: a drop). A sender
// limits its ICMP errors (net.ipv4.icmp_ratelimit, 1 s per destination
// after a burst of 6): many probes rejected in a row end as silence.
func Because(v Verdict) Option { return func(o *Options) { o.Because = v } }
