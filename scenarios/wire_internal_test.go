package scenarios

import (
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/assert"
)

// TestOnWireNamesItsRefs: a capture around a check names the capture's
// interface and what the check names, so Validate refuses a typo in
// either before anything is built.
func TestOnWireNamesItsRefs(t *testing.T) {
	for _, tc := range []struct{ node, iface, to, want string }{
		{"right", "trunk", "10.31.0.2", ""},
		{"right", "trunk0", "10.31.0.2", `node "right" has no interface "trunk0"`},
		{"rigth", "trunk", "10.31.0.2", `node "rigth" is not defined`},
		{"right", "trunk", "rigth", `target "rigth" is neither an IP address nor a node`},
	} {
		s := VLANTrunk()
		s.Check("wire", onWire(tc.node, tc.iface, "tagged 10", taggedFrame(10, "10.31.0.1", "10.31.0.2"), assert.Reach("left", tc.to)))
		err := s.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("valid capture refused: %v", err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Validate = %v, want %s", err, tc.want)
		}
	}
}
