// Package capture records the traffic of a scenario's links into pcapng
// files, one per link, from AF_PACKET sockets opened inside the namespaces.
package capture

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/inside"
	"github.com/vtest-dev/vtest/internal/invoker"
	"github.com/vtest-dev/vtest/internal/packet"
	"github.com/vtest-dev/vtest/scenario"
)

// Capture is a running capture of every link of a network.
type Capture struct {
	dir   *os.File
	links []*link
	wg    sync.WaitGroup
}

type link struct {
	path string
	name string // in Capture.dir
	f    *os.File
	bw   *bufio.Writer
	w    *pcapgo.NgWriter
	c    *packet.Socket
	err  error
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Start captures every link of n, at one end of each veth pair (a switch's
// port, or the first end defined), and every declared interface that
// carries traffic of its own (its Framing is not FramingNone: VLAN,
// macvlan, ipvlan, VXLAN, bond, WireGuard; not bridges, VRFs or dummies), into
// dir/<prefix>-<node>-<iface>.pcapng. VLAN tags the kernel strips are put
// back into the frames.
//
// Run as root, it writes only where no one else can interfere: dir must
// belong to root or the user the run is for (see invoker.Trusts), and no
// group or others may write to it unless it is sticky (like /tmp). Each
// file is new (never one found there, never through a link) and is given
// to the user behind sudo when dir is theirs.
func Start(n *scenario.Network, dir, prefix string) (*Capture, error) {
	d, err := openDir(dir)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	c := &Capture{dir: d}
	seen := map[string]bool{}
	for _, nd := range n.Nodes() {
		for _, ifc := range nd.Interfaces() {
			if ifc.Framing == scenario.FramingNone || ifc.PeerNode != "" && seen[ifc.PeerNode+"/"+ifc.PeerInterface] {
				continue // a bridge, or the other end of a pair already captured
			}
			seen[nd.Name()+"/"+ifc.Name] = true
			l, err := open(nd, ifc, d, unsafeChars.ReplaceAllString(prefix+"-"+nd.Name()+"-"+ifc.Name, "_")+".pcapng")
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

// openDir makes (see invoker.MkdirAll) and opens the capture directory,
// and checks the directory it opened.
func openDir(dir string) (*os.File, error) {
	if err := invoker.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	d := os.NewFile(uintptr(fd), dir)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		d.Close()
		return nil, err
	}
	if err := invoker.CheckOwnerMode(dir, &st); err != nil {
		d.Close()
		return nil, fmt.Errorf("not writing captures to %s: %w", dir, err)
	}
	return d, nil
}

func open(nd *scenario.Node, ifc *scenario.Interface, dir *os.File, name string) (*link, error) {
	l := &link{path: filepath.Join(dir.Name(), name), name: name}
	err := inside.Do(nd, func() (err error) {
		l.c, err = packet.Open(ifc.Name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("capture %s:%s: %w", nd.Name(), ifc.Name, err)
	}
	// A new file: never one (or a link) someone put at the name first.
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		l.c.Close()
		return nil, fmt.Errorf("capture: %w", &os.PathError{Op: "create", Path: l.path, Err: err})
	}
	l.f = os.NewFile(uintptr(fd), l.path)
	if err := invoker.GiveCreated(l.f, dir); err != nil {
		l.c.Close()
		l.f.Close()
		unix.Unlinkat(int(dir.Fd()), name, 0)
		return nil, fmt.Errorf("capture: %w", err)
	}
	l.bw = bufio.NewWriter(l.f)
	intf := pcapgo.DefaultNgInterface
	intf.Name = nd.Name() + ":" + ifc.Name
	intf.LinkType = layers.LinkTypeEthernet
	if ifc.Framing == scenario.FramingIP {
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
		if keep {
			files = append(files, l.path)
		} else {
			c.remove(l)
		}
		l.f.Close()
	}
	c.dir.Close()
	return files
}

// remove removes the file l wrote, and nothing that has taken its name.
func (c *Capture) remove(l *link) {
	var mine, there unix.Stat_t
	if unix.Fstat(int(l.f.Fd()), &mine) != nil || unix.Fstatat(int(c.dir.Fd()), l.name, &there, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return
	}
	if mine.Dev == there.Dev && mine.Ino == there.Ino {
		unix.Unlinkat(int(c.dir.Fd()), l.name, 0)
	}
}
