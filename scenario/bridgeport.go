package scenario

import (
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// BridgePortInfo is the state of one bridge port as the kernel reports it
// in an AF_BRIDGE link dump (IFLA_PROTINFO).
type BridgePortInfo struct {
	// State is the STP state: "disabled", "listening", "learning",
	// "forwarding" or "blocking".
	State string
	// Learning, Flood (unknown unicast) and Isolated are the port's flags.
	Learning, Flood, Isolated bool
	stp                       uint8 // the STP state as the kernel numbers it
}

// BridgePorts returns the state of every bridge port of the node, by
// interface index. It reads netlink; nothing external runs.
func (nd *Node) BridgePorts() (map[int]BridgePortInfo, error) {
	out := map[int]BridgePortInfo{}
	err := nd.do(func() error {
		req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_DUMP)
		req.AddData(nl.NewIfInfomsg(unix.AF_BRIDGE))
		msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			ifi := nl.DeserializeIfInfomsg(m)
			attrs, err := nl.ParseRouteAttr(m[ifi.Len():])
			if err != nil {
				return err
			}
			for _, a := range attrs {
				if a.Attr.Type&^unix.NLA_F_NESTED != unix.IFLA_PROTINFO {
					continue
				}
				nested, err := nl.ParseRouteAttr(a.Value)
				if err != nil {
					return err
				}
				info := BridgePortInfo{State: "forwarding", Learning: true, Flood: true}
				for _, na := range nested {
					if len(na.Value) == 0 {
						continue
					}
					on := na.Value[0] != 0
					switch na.Attr.Type &^ unix.NLA_F_NESTED {
					case nl.IFLA_BRPORT_STATE:
						info.State, info.stp = stpStateName(na.Value[0]), na.Value[0]
					case nl.IFLA_BRPORT_LEARNING:
						info.Learning = on
					case nl.IFLA_BRPORT_UNICAST_FLOOD:
						info.Flood = on
					case nl.IFLA_BRPORT_ISOLATED:
						info.Isolated = on
					}
				}
				out[int(ifi.Index)] = info
			}
		}
		return nil
	})
	return out, err
}

func stpStateName(s uint8) string {
	switch s {
	case 0:
		return "disabled"
	case brStateListening:
		return "listening"
	case brStateLearning:
		return "learning"
	case brStateForwarding:
		return "forwarding"
	case brStateBlocking:
		return "blocking"
	}
	return "unknown"
}
