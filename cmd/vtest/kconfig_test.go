package main

import (
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/scenario"
	_ "github.com/vtest-dev/vtest/scenarios" // the built-in scenarios, to compare with
)

// TestKconfig: vtest kconfig ./scenarios lists the options of every
// feature the built-in scenarios declare or imply, each once.
func TestKconfig(t *testing.T) {
	r := vtest(t, ".", "kconfig", builtin)
	r.must(t, 0, "CONFIG_NET_NS=y", "CONFIG_VETH=y", "CONFIG_BRIDGE=y", "CONFIG_NFT_MASQ=y", "CONFIG_NET_SCH_NETEM=y", "CONFIG_VLAN_8021Q=y")
	for _, s := range scenario.Registered() {
		for _, f := range s.Features() {
			if len(f.Kconfig()) == 0 {
				t.Errorf("feature %s of %s has no kernel config options", f, s.Name)
			}
			for _, o := range f.Kconfig() {
				if strings.Count(r.stdout, "\n"+o+"=y\n") != 1 {
					t.Errorf("%s (feature %s of %s) not listed once:\n%s", o, f, s.Name, r.stdout)
				}
			}
		}
	}
	for _, f := range scenario.AllFeatures {
		if len(f.Kconfig()) == 0 {
			t.Errorf("feature %s has no kernel config options", f)
		}
	}
}
