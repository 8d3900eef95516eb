package scenario_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestNodeHTTPStaysInside serves HTTP in one node and fetches it from the
// other through Node.HTTPClient, from plain goroutines, while a server of
// the host listens on the same port on the host's loopback: the client
// reaches only the scenario's server, and the host's is unreachable.
func TestNodeHTTPStaysInside(t *testing.T) {
	hostcheck.RequireRoot(t)
	t.Parallel()
	n := scenario.New(t, pair("node-http"))
	right, left := n.Node("right"), n.Node("left")

	ln, err := right.Listen("tcp", ":8080")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "inside, from "+r.RemoteAddr)
	}))

	// A server outside the scenario, on the host's loopback.
	hostLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hostLn.Close()
	go http.Serve(hostLn, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the host's server got a request from the scenario: %s", r.RemoteAddr)
	}))

	client := left.HTTPClient()
	client.Timeout = 3 * time.Second
	resp, err := client.Get("http://right:8080/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "inside, from "+left.IPv4().String()) {
		t.Errorf("body %q, want the scenario's server answering left (%s)", body, left.IPv4())
	}

	// The host's loopback server is out of reach: the node's loopback has
	// nothing on that port.
	if resp, err := client.Get("http://" + hostLn.Addr().String() + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("reached %s, the host's server", hostLn.Addr())
	} else if !strings.Contains(err.Error(), "refused") {
		t.Errorf("host loopback: %v, want connection refused inside the node", err)
	}
	// And an address of the host's own networks has no route from a node.
	if addr := hostAddress(t); addr != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if c, err := left.Dial(ctx, "tcp", net.JoinHostPort(addr, "22")); err == nil {
			c.Close()
			t.Errorf("dialled the host's address %s from a node", addr)
		}
	}
	// The plain UDP path too: a packet socket of the node.
	pc, err := right.ListenPacket("udp", ":9999")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c, err := left.Dial(context.Background(), "udp", "right:9999")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping"))
	pc.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 16)
	k, from, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:k]) != "ping" || !strings.HasPrefix(from.String(), left.IPv4().String()) {
		t.Errorf("udp: %q from %v: %v", buf[:k], from, err)
	}
}

// hostAddress returns a global address of the host, if it has one.
func hostAddress(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.IsGlobalUnicast() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

// BenchmarkNodeDial measures Node.Dial against a plain dial of a listener
// in the same node. Goal: ≤ 0.2 ms over the plain dial.
func BenchmarkNodeDial(b *testing.B) {
	hostcheck.RequireRoot(b)
	n, err := scenario.Build(context.Background(), pair("bench-dial"))
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	right, left := n.Node("right"), n.Node("left")
	ln, err := right.Listen("tcp", ":7000")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := net.JoinHostPort(right.IPv4().String(), "7000")
	ctx := context.Background()
	b.Run("Node.Dial", func(b *testing.B) {
		for b.Loop() {
			c, err := left.Dial(ctx, "tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
	b.Run("plain dial in Do", func(b *testing.B) {
		// The floor: one Do that dials b.N times.
		left.Do(func() error {
			var d net.Dialer
			for b.Loop() {
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
			return nil
		})
	})
}

func BenchmarkNodeDo(b *testing.B) {
	hostcheck.RequireRoot(b)
	n, err := scenario.Build(context.Background(), pair("bench-do"))
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	for b.Loop() {
		n.Node("left").Do(func() error { return nil })
	}
}
