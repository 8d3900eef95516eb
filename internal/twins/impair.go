package twins

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

// The impairment twins: a link option of Impairment must change what the
// traffic shows. The healthy network has the option, the broken one the
// same impairment without it; the check is a judge of a UDP stream (or
// burst) from left to right that sees the option's effect.

// impaired is pair with the traffic leaving left impaired by im.
func impaired(s *scenario.Spec, im scenario.Impairment) {
	pair(s)
	s.Links()[0].ImpairFrom("left", im)
}

// streamJudge is a check: a UDP stream left → right at mbit Mbit/s of
// size-byte datagrams, any loss allowed, whose counts judge reads; judge
// returns why they lack the effect, or "".
func streamJudge(mbit float64, size int, judge func(r *assert.UDPStreamResult) string) scenario.CheckFunc {
	return func(ctx context.Context, n *scenario.Network) scenario.Result {
		r, err := assert.StreamUDP(ctx, n.Node("left"), n.Node("right").IPv4(), mbit, assert.Loss(1), assert.Size(size))
		if r == nil {
			return scenario.Verdict("", err)
		}
		if err == nil {
			if why := judge(r); why != "" {
				err = errors.New(why)
			}
		}
		return scenario.Verdict(r.Evidence(), err)
	}
}

func netemLimit() Twin {
	return twin("netem-limit", "Impairment.Limit", "netem's default queue of 1000 packets (no Limit)",
		func(s *scenario.Spec, broken bool) {
			im := scenario.Impairment{Delay: 100 * time.Millisecond, Limit: 5}
			if broken {
				im.Limit = 0
			}
			impaired(s, im)
			// Neighbours first, in both: datagrams held in the ARP queue
			// while the delayed request travels would be dropped there
			// (the neighbour queue's limit, not netem's). Whether the
			// ping is answered is not this step's to judge.
			s.StepFunc("left pings right", func(ctx context.Context, n *scenario.Network) error {
				_, _ = assert.Ping(ctx, n.Node("left"), n.Node("right").IPv4(), assert.Timeout(time.Second))
				return nil
			})
		}, streamJudge(1, 500, func(r *assert.UDPStreamResult) string {
			// 250 datagrams a second held 100 ms: 25 in the queue.
			if r.Loss < 0.5 {
				return fmt.Sprintf("a queue of 5 packets under 25 in flight lost only %.0f%%, want ≥ 50%%", 100*r.Loss)
			}
			return ""
		}))
}

func netemGap() Twin {
	return twin("netem-gap", "Impairment.Gap", "reorder 100% without a gap (every packet goes at once, none is reordered)",
		func(s *scenario.Spec, broken bool) {
			im := scenario.Impairment{Delay: 100 * time.Millisecond, Reorder: 100, Gap: 5}
			if broken {
				im.Gap = 0
			}
			impaired(s, im)
		}, streamJudge(1, 500, func(r *assert.UDPStreamResult) string {
			// Every 5th datagram goes at once, ahead of the four delayed
			// before it.
			if r.Received == 0 || r.Reordered*10 < r.Received {
				return fmt.Sprintf("%d of %d datagrams reordered, want ≥ 10%% (every 5th sent ahead)", r.Reordered, r.Received)
			}
			return ""
		}))
}

func netemDuplicate() Twin {
	return twin("netem-duplicate", "Impairment.Duplicate", "no Duplicate (a 1 ms delay only)",
		func(s *scenario.Spec, broken bool) {
			im := scenario.Impairment{Delay: time.Millisecond, Duplicate: 100}
			if broken {
				im.Duplicate = 0
			}
			impaired(s, im)
		}, streamJudge(1, 500, func(r *assert.UDPStreamResult) string {
			// The receiver stops at its last new datagram, so the last
			// duplicates may go unread.
			if r.Received == 0 || r.Duplicates*10 < r.Received*9 {
				return fmt.Sprintf("%d duplicates of %d datagrams, want every one sent twice", r.Duplicates, r.Received)
			}
			return ""
		}))
}

func netemCorrelation() Twin {
	return twin("netem-correlation", "Impairment.DuplicateCorrelation", "duplicate 50% uncorrelated (about half the datagrams twice)",
		func(s *scenario.Spec, broken bool) {
			im := scenario.Impairment{Delay: time.Millisecond, Duplicate: 50, DuplicateCorrelation: 100}
			if broken {
				im.DuplicateCorrelation = 0
			}
			impaired(s, im)
		}, streamJudge(1, 500, func(r *assert.UDPStreamResult) string {
			// At 100% every datagram draws what the first drew: all of
			// them are duplicated, or none.
			if r.Received == 0 || r.Duplicates*20 > r.Received && r.Duplicates*20 < r.Received*19 {
				return fmt.Sprintf("%d duplicates of %d datagrams, want all or none (fully correlated draws)", r.Duplicates, r.Received)
			}
			return ""
		}))
}

func redECN() Twin {
	return twin("red-ecn", "RED.ECN", "RED without ECN (it drops instead of marking)",
		func(s *scenario.Spec, broken bool) {
			impaired(s, scenario.Impairment{Rate: 2_000_000, RED: &scenario.RED{Max: 30000, ECN: !broken}})
		}, ceMarked)
}

// ceMarked is a check: a burst of ECN-capable (ECT(0)) datagrams left →
// right, four times what the 2 Mbit/s link drains in the time, arrives with
// some marked Congestion Experienced.
func ceMarked(ctx context.Context, n *scenario.Network) scenario.Result {
	const count, size = 150, 1000
	left, right := n.Node("left"), n.Node("right")
	dst := netip.AddrPortFrom(right.IPv4(), 5301)
	var rc, sc *net.UDPConn
	if err := right.Do(func() (err error) { rc, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(dst)); return err }); err != nil {
		return scenario.Verdict("", fmt.Errorf("listen: %w", err))
	}
	defer rc.Close()
	if err := left.Do(func() (err error) { sc, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst)); return err }); err != nil {
		return scenario.Verdict("", fmt.Errorf("socket: %w", err))
	}
	defer sc.Close()
	if err := sockopt(rc, unix.IPPROTO_IP, unix.IP_RECVTOS, 1); err != nil {
		return scenario.Verdict("", err)
	}
	if err := sockopt(sc, unix.IPPROTO_IP, unix.IP_TOS, 0x02); err != nil { // ECT(0)
		return scenario.Verdict("", err)
	}
	type tally struct{ got, ce int }
	done := make(chan tally, 1)
	_ = rc.SetReadDeadline(time.Now().Add(10 * time.Second))
	go func() {
		var t tally
		buf, oob := make([]byte, 2048), make([]byte, 64)
		for t.got < count {
			_, oobn, _, _, err := rc.ReadMsgUDPAddrPort(buf, oob)
			if err != nil {
				break
			}
			t.got++
			cms, _ := unix.ParseSocketControlMessage(oob[:oobn])
			for _, m := range cms {
				if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TOS && len(m.Data) > 0 && m.Data[0]&3 == 3 {
					t.ce++
				}
			}
		}
		done <- t
	}()
	buf := make([]byte, size)
	sent := 0
	for range count {
		if _, err := sc.Write(buf); err == nil {
			sent++
		}
	}
	// 150 kB drain in 0.6 s at 2 Mbit/s; what is still missing a second
	// later was dropped.
	select {
	case <-time.After(1600 * time.Millisecond):
		_ = rc.SetReadDeadline(time.Now())
	case <-ctx.Done():
		_ = rc.SetReadDeadline(time.Now())
	case t := <-done:
		done <- t
	}
	t := <-done
	ev := fmt.Sprintf("burst of %d ECT(0) datagrams of %d bytes left → right: %d sent, %d received, %d marked CE", count, size, sent, t.got, t.ce)
	if t.ce == 0 {
		return scenario.Verdict(ev, errors.New("no datagram arrived marked CE: the queue dropped instead of marking"))
	}
	return scenario.Verdict(ev, nil)
}

// sockopt sets an integer socket option.
func sockopt(c *net.UDPConn, level, name, value int) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), level, name, value) }); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("socket option %d/%d: %w", level, name, serr)
	}
	return nil
}
