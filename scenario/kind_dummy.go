package scenario

import (
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// FeatureDummy is the dummy driver (module dummy).
const FeatureDummy Feature = "dummy"

var _ = defineFeature(FeatureDummy, featureDef{
	what: "creating a dummy link (module dummy)",
	try: func(_ netns.NsHandle, h *netlink.Handle) error {
		return h.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}})
	},
	kconfig: []string{"CONFIG_DUMMY"},
	modules: []string{"dummy"},
})

// Dummy is a dummy interface: an address that is always up, such as a
// router ID or a loopback-style service address.
type Dummy struct{}

func (Dummy) kindName() string           { return "dummy" }
func (Dummy) feature() Feature           { return FeatureDummy }
func (Dummy) check(*kindCheck)           {}
func (Dummy) describe(*IfaceSpec) string { return "dummy" }
func (Dummy) framing() Framing           { return FramingNone }
func (Dummy) newLink(b *kindBuild) (netlink.Link, error) {
	return &netlink.Dummy{LinkAttrs: b.attrs}, nil
}
