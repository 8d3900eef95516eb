package assert

import (
	"context"
	"fmt"

	"net/netip"

	"time"

	"github.com/vtest-dev/vtest/scenario"
)

// PortForwarded is a scenario check for DNAT: a TCP connection from client
// to the router's address to:port reaches a listener the check opens in
// server on serverPort, and the server sees the client's own address and
// port as the peer: the connection it accepted is the one the check
// opened, and the forward rewrote the destination only.
func PortForwarded(client string, to Target, port int, server string, serverPort int, opts ...Option) scenario.CheckFunc {
	return declare("PortForwarded", connReads, opts, names([]string{client, server}, to), endWithWalk(client, to, opts, checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		src, srv := n.Node(client), n.Node(server)
		dst, err := resolveFor(n, src, to, opts)
		if err != nil {
			return nil, err
		}
		listen := netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(serverPort))
		if dst.Is6() {
			listen = netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(serverPort))
		}
		r, err := TCPAttempt(ctx, src, srv, netip.AddrPortFrom(dst, uint16(port)), listen, opts...)
		if err != nil {
			return r, err
		}
		switch {
		case r.Verdict != Allowed:
			return r, fmt.Errorf("port forward %s → %s: %s", client, r.Dst, r.Evidence())
		case !r.Accepted:
			return r, fmt.Errorf("port forward %s → %s: connected, but not to %s: %s", client, r.Dst, server, r.Evidence())
		case r.Peer.Addr() != r.Local.Addr():
			return r, fmt.Errorf("port forward %s → %s: %s saw %s, not the client's %s: %s", client, r.Dst, server, r.Peer.Addr(), r.Local.Addr(), r.Evidence())
		case r.Peer != r.Local:
			return r, fmt.Errorf("port forward %s → %s: %s accepted a connection from %s, not the check's own from %s: %s", client, r.Dst, server, r.Peer, r.Local, r.Evidence())
		}
		return r, nil
	}), dnatNote(port)))
}

// lossResult is the evidence of LossWithin.
type lossResult struct {
	ping   *PingResult
	lo, hi float64
	warm   int // warm-up probes until the first echo
}

func (r *lossResult) Evidence() string {
	return fmt.Sprintf("%s; loss %.0f%% (want %.0f%%..%.0f%%) after %d warm-up probe(s)", r.ping.Evidence(), 100*r.ping.Loss(), 100*r.lo, 100*r.hi, r.warm)
}

// LossWithin is a scenario check: of Count echo probes (default 100, 1 ms
// apart, replies awaited up to Timeout, default 2 s), the fraction lost lies
// between lo and hi (0..1). It proves a loss impairment acts, and is not
// total. Single warm-up probes go first until one echo comes back (at most
// 3 s), so neighbour resolution is not measured.
func LossWithin(from string, to Target, lo, hi float64, opts ...Option) scenario.CheckFunc {
	return declare("LossWithin", lossReads, opts, names([]string{from}, to), checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		src := n.Node(from)
		o, err := build(Options{Count: 100, Interval: time.Millisecond, Timeout: 2 * time.Second}, opts)
		if err != nil {
			return nil, fmt.Errorf("loss: %w", err)
		}
		dst, err := resolve(n, src, to, o.IPv6)
		if err != nil {
			return nil, err
		}
		// Warm up until one echo comes back, so that neighbour
		// resolution (whose own packets the impairment may lose) is not
		// counted as loss.
		warm := 0
		for deadline := time.Now().Add(3 * time.Second); ; {
			w := o
			w.Count, w.Warmup, w.Loss, w.Timeout = 1, 0, 1, 250*time.Millisecond
			warm++
			wp, err := ping(ctx, src, dst, w)
			if err != nil {
				return nil, err
			}
			if wp.Received > 0 {
				break
			}
			if time.Now().After(deadline) {
				return wp, fmt.Errorf("loss %s → %s: no echo came back in %d warm-up probes over 3 s: %s", from, dst, warm, wp.Evidence())
			}
		}
		p, err := ping(ctx, src, dst, o)
		if err != nil {
			return nil, err
		}
		r := &lossResult{ping: p, lo: lo, hi: hi, warm: warm}
		if l := p.Loss(); l < lo || l > hi {
			return r, fmt.Errorf("loss %s → %s is %.0f%%, outside %.0f%%..%.0f%%: %s", from, dst, 100*l, 100*lo, 100*hi, r.Evidence())
		}
		return r, nil
	}))
}

// SeenAs is a scenario check: a UDP datagram from → to (sent from Source if
// given) arrives at a listener in to with source address want, and the
// echo comes back. With masquerading exits it tells which exit a source
// address takes (policy routing).
func SeenAs(from string, to Target, want string, opts ...Option) scenario.CheckFunc {
	return declare("SeenAs", sourceReads, opts, seenAs(from, to, want), endWithWalk(from, to, opts, checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		src := n.Node(from)
		dst, err := resolveFor(n, src, to, opts)
		if err != nil {
			return nil, err
		}
		w, err := netip.ParseAddr(want)
		if err != nil {
			return nil, fmt.Errorf("seen-as: want %q is not an address", want)
		}
		owner := ownerNode(n, dst)
		if owner == nil {
			return nil, fmt.Errorf("seen-as: no node of scenario %q owns %s", n.Spec().Name, dst)
		}
		r, err := SeenSource(ctx, src, owner, dst, opts...)
		if err != nil {
			return r, err
		}
		r.Want = w
		return r, judgeSource(r, w)
	}), nil))
}
