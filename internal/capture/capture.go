// Package capture records the traffic of a scenario's links into pcapng
// files, one per link, from AF_PACKET sockets opened inside the namespaces.
package capture

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/vtest-dev/vtest/internal/invoker"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/vtest-dev/vtest/scenario"
)

// Capture is a running capture of every link of a network.
type Capture struct {
	links []*link
	wg    sync.WaitGroup
}

type link struct {
	path string
	f    *os.File
	bw   *bufio.Writer
	w    *pcapgo.NgWriter
	c    *Sniffer
	err  error
}

// captured are the kinds of interface captured.
var captured = map[string]bool{"veth": true, "vlan": true, "macvlan": true, "ipvlan": true, "vxlan": true, "bond": true, "wireguard": true}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Start captures every link of n, at one end of each veth pair (a switch's
// port, or the first end defined), and every declared interface that
// carries traffic of its own (VLAN, macvlan, ipvlan, VXLAN, bond,
// WireGuard; not bridges, VRFs or dummies), into
// dir/<prefix>-<node>-<iface>.pcapng. VLAN tags the kernel strips are put
// back into the frames.
func Start(n *scenario.Network, dir, prefix string) (*Capture, error) {
	if err := invoker.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	c := &Capture{}
	seen := map[string]bool{}
	for _, nd := range n.Nodes() {
		for _, ifc := range nd.Interfaces() {
			if !captured[ifc.Kind] || ifc.Kind == "veth" && seen[ifc.PeerNode+"/"+ifc.PeerInterface] {
				continue // a bridge, or the other end of a pair already captured
			}
			seen[nd.Name()+"/"+ifc.Name] = true
			l, err := open(nd, ifc, filepath.Join(dir, unsafeChars.ReplaceAllString(prefix+"-"+nd.Name()+"-"+ifc.Name, "_")+".pcapng"))
			if err != nil {
				c.Stop(false)
				return nil, err
			}
			c.links = append(c.links, l)
			c.wg.Add(1)
			go func() { defer c.wg.Done(); l.run() }()
		}
	}
	return c, nil
}

func open(nd *scenario.Node, ifc *scenario.Interface, path string) (*link, error) {
	l := &link{path: path}
	err := nd.Do(func() (err error) {
		l.c, err = Sniff(ifc.Name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("capture %s:%s: %w", nd.Name(), ifc.Name, err)
	}
	if l.f, err = os.Create(path); err != nil {
		l.c.Close()
		return nil, fmt.Errorf("capture: %w", err)
	}
	if err := invoker.Give(path); err != nil {
		l.c.Close()
		l.f.Close()
		return nil, fmt.Errorf("capture: %w", err)
	}
	l.bw = bufio.NewWriter(l.f)
	intf := pcapgo.DefaultNgInterface
	intf.Name = nd.Name() + ":" + ifc.Name
	intf.LinkType = layers.LinkTypeEthernet
	if ifc.Kind == "wireguard" {
		intf.LinkType = layers.LinkTypeRaw // IP packets, no link-layer header
	}
	intf.Description = fmt.Sprintf("%s %s:%s", ifc.Kind, nd.Name(), ifc.Name)
	if ifc.PeerNode != "" {
		intf.Description += fmt.Sprintf(" — %s:%s", ifc.PeerNode, ifc.PeerInterface)
	}
	if l.w, err = pcapgo.NewNgWriterInterface(l.bw, intf, pcapgo.DefaultNgWriterOptions); err != nil {
		l.c.Close()
		l.f.Close()
		return nil, fmt.Errorf("capture: %w", err)
	}
	return l, nil
}

func (l *link) run() {
	for {
		frame, err := l.c.Read(time.Time{})
		if err != nil {
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) {
				l.err = err
			}
			return
		}
		n := len(frame)
		ci := gopacket.CaptureInfo{Timestamp: time.Now(), CaptureLength: n, Length: n}
		if err := l.w.WritePacket(ci, frame); err != nil {
			l.err = err
			return
		}
	}
}

// Stop ends the capture, writing the frames already queued, then closing
// every socket (they would keep the namespaces alive). With keep it
// returns the files written; without, it deletes them.
func (c *Capture) Stop(keep bool) []string {
	for _, l := range c.links {
		l.c.Drain() // write what is queued, then stop
	}
	c.wg.Wait()
	for _, l := range c.links {
		l.c.Close()
	}
	var files []string
	for _, l := range c.links {
		l.w.Flush()
		l.bw.Flush()
		l.f.Close()
		if keep {
			files = append(files, l.path)
		} else {
			os.Remove(l.path)
		}
	}
	return files
}
