package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/scenario"
)

// NetnsDir is where ip-netns(8) looks for named namespaces.
const NetnsDir = "/run/netns"

// KeepPrefix starts the name of every namespace a run keeps for debugging.
const KeepPrefix = "vtest-"

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Keep binds the namespaces of a failed network under /run/netns as
// vtest-<run>-<scenario>-<node> so that they outlive the run, and returns
// the commands to inspect them. vtest clean removes them.
func Keep(runID string, s *scenario.Spec, n *scenario.Network) ([]string, error) {
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return nil, fmt.Errorf("keep namespaces: %w", err)
	}
	var notes []string
	for _, nd := range n.Nodes() {
		name := KeepPrefix + unsafeName.ReplaceAllString(runID+"-"+s.Name+"-"+nd.Name(), "_")
		path := filepath.Join(NetnsDir, name)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
		if err != nil {
			return notes, fmt.Errorf("keep node %q: %w", nd.Name(), err)
		}
		f.Close()
		src := fmt.Sprintf("/proc/self/fd/%d", nd.NamespaceFd())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			os.Remove(path)
			return notes, fmt.Errorf("keep node %q: bind %s: %w", nd.Name(), path, err)
		}
		notes = append(notes, fmt.Sprintf("kept %s: ip netns exec %s ip addr; ip netns exec %s ip route; ip netns exec %s nft list ruleset", nd.Name(), name, name, name))
	}
	notes = append(notes, "remove the kept namespaces with: vtest clean")
	return notes, nil
}

// Clean removes every namespace a run kept (/run/netns/vtest-*) and nothing
// else, and returns the names removed.
func Clean() ([]string, error) {
	ents, err := os.ReadDir(NetnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), KeepPrefix) {
			continue
		}
		path := filepath.Join(NetnsDir, e.Name())
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", path, err))
			continue
		}
		if err := os.Remove(path); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, e.Name())
	}
	return removed, errors.Join(errs...)
}
