package scenario

import "github.com/vishvananda/netlink"

// Dummy is a dummy interface: an address that is always up, such as a
// router ID or a loopback-style service address.
type Dummy struct{}

func (Dummy) kindName() string           { return "dummy" }
func (Dummy) feature() Feature           { return FeatureDummy }
func (Dummy) check(*kindCheck)           {}
func (Dummy) describe(*IfaceSpec) string { return "dummy" }
func (Dummy) newLink(b *kindBuild) (netlink.Link, error) {
	return &netlink.Dummy{LinkAttrs: b.attrs}, nil
}
