package assert

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/internal/packet"
	"github.com/vtest-dev/vtest/scenario"
)

// ownCount is how many of a check's own packets one interface received
// (In) and sent (Out), and how many other frames it carried meanwhile.
type ownCount struct {
	In, Out           int
	OtherIn, OtherOut int
}

// tap watches interfaces of a node for a check's own packets: a check
// that says where its traffic went counts the packets it sent, matched by
// their addresses, protocol, ports or ICMP id, never the interfaces'
// counters, which also count every ARP, neighbour solicitation and other
// flow that crossed them.
type tap struct {
	node   *scenario.Node
	ifaces []string
	socks  []*packet.Socket
	own    func(iface string, p gopacket.Packet, outgoing bool) bool

	mu     sync.Mutex
	counts map[string]*ownCount
	enough func(map[string]*ownCount) bool
	done   chan struct{}
	closed bool
	wg     sync.WaitGroup
	err    error
}

// openTap opens a packet socket on each of a node's interfaces ifaces and
// counts, from now on, the frames own accepts (own is told which
// interface carried the frame and whether it sent it). Call wait or stop
// to read the counts.
func openTap(nd *scenario.Node, ifaces []string, own func(iface string, p gopacket.Packet, outgoing bool) bool) (*tap, error) {
	t := &tap{node: nd, ifaces: ifaces, own: own, counts: map[string]*ownCount{}, done: make(chan struct{})}
	for _, name := range ifaces {
		var sn *packet.Socket
		err := inside.Do(nd, func() (err error) { sn, err = packet.Open(name); return err })
		if err != nil {
			t.close()
			return nil, fmt.Errorf("watch %s:%s for the check's own packets: %w", nd.Name(), name, err)
		}
		t.socks = append(t.socks, sn)
		t.counts[name] = &ownCount{}
	}
	for i, sn := range t.socks {
		// A WireGuard interface carries IP packets without a link-layer
		// header.
		first := layers.LayerTypeEthernet
		if ifc := nd.Interface(t.ifaces[i]); ifc != nil && ifc.Framing == scenario.FramingIP {
			first = layers.LayerTypeIPv4
		}
		t.wg.Add(1)
		go t.read(t.ifaces[i], sn, first)
	}
	return t, nil
}

func (t *tap) read(iface string, sn *packet.Socket, first gopacket.LayerType) {
	defer t.wg.Done()
	for {
		frame, outgoing, err := sn.ReadDir(time.Time{})
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, os.ErrClosed) {
				t.mu.Lock()
				t.err = fmt.Errorf("read %s:%s: %w", t.node.Name(), iface, err)
				t.mu.Unlock()
			}
			return
		}
		decode := first
		if first != layers.LayerTypeEthernet && len(frame) > 0 && frame[0]>>4 == 6 {
			decode = layers.LayerTypeIPv6
		}
		mine := t.own(iface, gopacket.NewPacket(frame, decode, gopacket.DecodeOptions{Lazy: true, NoCopy: true}), outgoing)
		t.mu.Lock()
		c := t.counts[iface]
		switch {
		case mine && outgoing:
			c.Out++
		case mine:
			c.In++
		case outgoing:
			c.OtherOut++
		default:
			c.OtherIn++
		}
		if t.enough != nil && !t.closed && t.enough(t.counts) {
			t.closed = true
			close(t.done)
		}
		t.mu.Unlock()
	}
}

// wait returns once enough says the counts suffice or the deadline
// passes, then counts what is still queued and stops. It returns a copy
// of the counts.
func (t *tap) wait(deadline time.Time, enough func(map[string]*ownCount) bool) (map[string]ownCount, error) {
	t.mu.Lock()
	t.enough = enough
	if enough != nil && enough(t.counts) && !t.closed {
		t.closed = true
		close(t.done)
	}
	t.mu.Unlock()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	if enough != nil {
		select {
		case <-t.done:
		case <-timer.C:
		}
	}
	return t.stop()
}

// stop reads the frames already queued, closes the sockets and returns
// the counts.
func (t *tap) stop() (map[string]ownCount, error) {
	for _, sn := range t.socks {
		_ = sn.Drain()
	}
	t.wg.Wait()
	t.close()
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]ownCount{}
	for k, v := range t.counts {
		out[k] = *v
	}
	return out, t.err
}

func (t *tap) close() {
	for _, sn := range t.socks {
		sn.Close()
	}
	t.socks = nil
}

// ownTraffic renders per-interface counts of a check's own packets.
func ownTraffic(node string, ifaces []string, counts map[string]ownCount) string {
	var parts []string
	for _, i := range ifaces {
		c := counts[i]
		parts = append(parts, fmt.Sprintf("%s:%s in %d out %d (other frames in %d out %d)", node, i, c.In, c.Out, c.OtherIn, c.OtherOut))
	}
	return strings.Join(parts, ", ")
}
