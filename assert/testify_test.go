package assert_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	tassert "github.com/stretchr/testify/assert"
	trequire "github.com/stretchr/testify/require"

	vassert "github.com/vtest-dev/vtest/assert"
	vrequire "github.com/vtest-dev/vtest/assert/require"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// recorder is a test double: it records failures instead of failing.
type recorder struct{ errs []string }

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestEventuallyWithTAroundAHelper says "connectable once the daemon is
// up" the testify way: a vtest helper inside EventuallyWithT passes once a
// late listener starts, and the same wait fails (reported to a test double)
// when nothing ever listens.
func TestEventuallyWithTAroundAHelper(t *testing.T) {
	hostcheck.RequireRoot(t)
	t.Parallel()
	s := scenario.Define("testify", "two hosts, a daemon that starts late")
	s.Host("client")
	s.Host("server")
	s.Link("client", "server")
	n := scenario.New(t, s)
	client, server := n.Node("client"), n.Node("server")

	// The daemon comes up a while after the test starts waiting for it.
	started := make(chan net.Listener, 1)
	time.AfterFunc(300*time.Millisecond, func() {
		ln, err := server.Listen("tcp", ":8080")
		if err != nil {
			t.Error(err)
		}
		started <- ln
	})
	tassert.EventuallyWithT(t, func(c *tassert.CollectT) {
		vassert.CanConnect(c, client, server, 8080, vassert.Timeout(200*time.Millisecond))
	}, 5*time.Second, 50*time.Millisecond)
	ln := <-started
	defer ln.Close()

	// Nothing listens on 9090: the same wait gives up, with vtest's evidence.
	rec := &recorder{}
	ok := tassert.EventuallyWithT(rec, func(c *tassert.CollectT) {
		vassert.CanConnect(c, client, server, 9090, vassert.Timeout(100*time.Millisecond))
	}, 500*time.Millisecond, 100*time.Millisecond)
	if ok || len(rec.errs) == 0 {
		t.Fatalf("EventuallyWithT passed with nothing listening: %v", rec.errs)
	}

	// The generic adapter: any scenario check is a helper, also through
	// testify's require-style values.
	vassert.Check(t, n, vassert.Reach("client", "server"))
	vrequire.Check(t, n, vassert.Reach("client", "server"))
	rec = &recorder{}
	if vassert.Check(rec, n, vassert.NoReach("client", "server")) || len(rec.errs) != 1 {
		t.Errorf("a failing check passed through Check: %v", rec.errs)
	}
	trequire.True(t, vassert.Check(t, n, vassert.Reach("server", "client")))
}
