package scenario

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Dial connects to address from inside the node, like net.Dialer.DialContext.
// The socket is created in the node's namespace and may be used from any
// goroutine afterwards, so every packet of the connection stays in the
// scenario. The host part of address may be a node's name (the peer's
// address on a segment this node shares with it, else its first address);
// other names are resolved by Go's own resolver inside the node, never by
// the host's.
func (nd *Node) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	address, err := nd.resolveNodeName(network, address)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Resolver: &net.Resolver{PreferGo: true}}
	var c net.Conn
	err = nd.doUsed(func() (err error) {
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dial %s %s from node %q: %w", network, address, nd.name, err)
	}
	return c, nil
}

// Listen listens on address inside the node, like net.Listen; the listener
// (and the connections it accepts) may be used from any goroutine, e.g. with
// http.Serve.
func (nd *Node) Listen(network, address string) (net.Listener, error) {
	var l net.Listener
	err := nd.doUsed(func() (err error) {
		l, err = net.Listen(network, address)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen %s %s in node %q: %w", network, address, nd.name, err)
	}
	return l, nil
}

// ListenPacket is net.ListenPacket inside the node.
func (nd *Node) ListenPacket(network, address string) (net.PacketConn, error) {
	var c net.PacketConn
	err := nd.doUsed(func() (err error) {
		c, err = net.ListenPacket(network, address)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen %s %s in node %q: %w", network, address, nd.name, err)
	}
	return c, nil
}

// HTTPClient returns an HTTP client whose connections are dialled inside
// the node (see Dial): http://server:8080/ reaches node "server". It uses
// no proxy from the environment and keeps no connection beyond the
// network's life.
func (nd *Node) HTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil, // an HTTP_PROXY of the host would lead outside
			DialContext:           nd.Dial,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          16,
			IdleConnTimeout:       30 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		Timeout: 30 * time.Second,
	}
}

// resolveNodeName replaces a node name in address's host part by that
// node's address.
func (nd *Node) resolveNodeName(network, address string) (string, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil || nd.net == nil {
		return address, nil // let the dialer report it
	}
	target := nd.net.nodes[host]
	if target == nil {
		return address, nil
	}
	// IPv4 unless the network asks for IPv6 or the node has no IPv4.
	v6 := network == "tcp6" || network == "udp6" || !target.IPv4().IsValid() && network != "tcp4" && network != "udp4"
	addr, err := nd.AddrFor(target, v6)
	if err != nil {
		return "", fmt.Errorf("dial %s %s from node %q: %w", network, address, nd.name, err)
	}
	return net.JoinHostPort(addr.String(), port), nil
}
