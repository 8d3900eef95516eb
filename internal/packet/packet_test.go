package packet

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/internal/nsx"
)

// auxdata is the control message the kernel attaches to a frame whose
// tag it stripped.
func auxdata(status uint32, tpid, tci uint16) []byte {
	aux := unix.TpacketAuxdata{Status: status, Vlan_tci: tci, Vlan_tpid: tpid}
	data := unsafe.Slice((*byte)(unsafe.Pointer(&aux)), unsafe.Sizeof(aux))
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.SOL_PACKET, unix.PACKET_AUXDATA
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

// TestRetag: the tag goes back after the MACs with the TPID the kernel
// reports (802.1ad stays 0x88a8), 0x8100 when it reports none, and a
// frame without a stripped tag is copied unchanged.
func TestRetag(t *testing.T) {
	frame := append(bytes.Repeat([]byte{0xaa}, 12), 0x08, 0x00, 0x45)
	for _, tc := range []struct {
		name string
		oob  []byte
		want []byte
	}{
		{"802.1ad", auxdata(unix.TP_STATUS_VLAN_VALID|unix.TP_STATUS_VLAN_TPID_VALID, 0x88a8, 300), []byte{0x88, 0xa8, 0x01, 0x2c}},
		{"802.1Q", auxdata(unix.TP_STATUS_VLAN_VALID|unix.TP_STATUS_VLAN_TPID_VALID, 0x8100, 10), []byte{0x81, 0x00, 0x00, 0x0a}},
		{"no TPID reported", auxdata(unix.TP_STATUS_VLAN_VALID, 0, 10), []byte{0x81, 0x00, 0x00, 0x0a}},
		{"no tag", auxdata(0, 0, 0), nil},
	} {
		got := retag(frame, tc.oob)
		want := append(append(append([]byte{}, frame[:12]...), tc.want...), frame[12:]...)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: got % x, want % x", tc.name, got, want)
		}
	}
}

// TestSocketKeeps8021adTPID: tagged frames written on one end of a veth
// pair arrive at the other with their tag stripped into metadata; the
// socket puts each back with its own TPID, 802.1ad (0x88a8) as well as
// 802.1Q (0x8100).
func TestSocketKeeps8021adTPID(t *testing.T) {
	hostcheck.RequireRoot(t)
	ns, err := nsx.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	var tx, rx *Socket
	err = nsx.Do(ns, func() error {
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "p0"}, PeerName: "p1"}); err != nil {
			return err
		}
		for _, name := range []string{"p0", "p1"} {
			l, err := netlink.LinkByName(name)
			if err != nil {
				return err
			}
			if err := netlink.LinkSetUp(l); err != nil {
				return err
			}
		}
		// A frame written before the kernel has processed the carrier
		// change is dropped (the veth has no queue attached until then):
		// wait for both ends to be operationally up, as a build does.
		deadline := time.Now().Add(5 * time.Second)
		for _, name := range []string{"p0", "p1"} {
			for {
				l, err := netlink.LinkByName(name)
				if err != nil {
					return err
				}
				if l.Attrs().OperState == netlink.OperUp {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%s still %s after 5 s", name, l.Attrs().OperState)
				}
				time.Sleep(time.Millisecond)
			}
		}
		if tx, err = Open("p0"); err != nil {
			return err
		}
		rx, err = Open("p1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	defer rx.Close()
	for _, tag := range [][]byte{{0x88, 0xa8, 0x01, 0x2c}, {0x81, 0x00, 0x00, 0x0a}} {
		src := []byte{0x02, 0, 0, 0, tag[0], tag[3]}
		frame := append(append(append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, src...), tag...), 0x88, 0xb5)
		frame = append(frame, make([]byte, 46)...)
		if err := tx.Write(frame); err != nil {
			t.Fatalf("write: %v", err)
		}
		for {
			got, outgoing, err := rx.ReadDir(time.Now().Add(2 * time.Second))
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the frame tagged % x never arrived", tag)
			}
			if err != nil {
				t.Fatal(err)
			}
			if outgoing || !bytes.Equal(got[6:12], src) {
				continue // IPv6 router solicitations and the like
			}
			if !bytes.Equal(got[12:16], tag) {
				t.Errorf("tag: got % x, want % x", got[12:16], tag)
			}
			break
		}
	}
}
