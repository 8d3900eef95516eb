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
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

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
	c    *packet.Conn
	err  error
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Start captures every link of n, at one end of each veth pair (a switch's
// port, or the first end defined), into dir/<prefix>-<node>-<iface>.pcapng.
func Start(n *scenario.Network, dir, prefix string) (*Capture, error) {
	if err := invoker.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	c := &Capture{}
	seen := map[string]bool{}
	for _, nd := range n.Nodes() {
		for _, ifc := range nd.Interfaces() {
			if ifc.PeerNode == "" || seen[ifc.PeerNode+"/"+ifc.PeerInterface] {
				continue // a bridge, or the other end of a pair already captured
			}
			seen[nd.Name()+"/"+ifc.Name] = true
			l, err := open(nd, ifc, filepath.Join(dir, unsafe.ReplaceAllString(prefix+"-"+nd.Name()+"-"+ifc.Name, "_")+".pcapng"))
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
	err := nd.Do(func() error {
		ifi, err := net.InterfaceByName(ifc.Name)
		if err != nil {
			return err
		}
		l.c, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
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
	intf.Description = fmt.Sprintf("veth %s:%s — %s:%s", nd.Name(), ifc.Name, ifc.PeerNode, ifc.PeerInterface)
	if l.w, err = pcapgo.NewNgWriterInterface(l.bw, intf, pcapgo.DefaultNgWriterOptions); err != nil {
		l.c.Close()
		l.f.Close()
		return nil, fmt.Errorf("capture: %w", err)
	}
	return l, nil
}

func (l *link) run() {
	buf := make([]byte, 65536)
	for {
		n, _, err := l.c.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrClosed) {
				l.err = err
			}
			return
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Now(), CaptureLength: n, Length: n}
		if err := l.w.WritePacket(ci, buf[:n]); err != nil {
			l.err = err
			return
		}
	}
}

// Stop ends the capture, closing every socket (they would keep the
// namespaces alive). With keep it returns the files written; without, it
// deletes them.
func (c *Capture) Stop(keep bool) []string {
	for _, l := range c.links {
		l.c.Close()
	}
	c.wg.Wait()
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
