package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/vtest-dev/vtest/internal/nsx"
	"github.com/vtest-dev/vtest/runner"
)

// takeExec removes -exec from the suite's flags and returns its command:
// nil when the flag was not given, empty when it was given empty (run the
// suite directly).
func takeExec(flags []string) (rest, command []string, err error) {
	for i := 0; i < len(flags); i++ {
		name, val, hasVal, isFlag := cutFlag(flags[i])
		if !isFlag || name != "exec" {
			rest = append(rest, flags[i])
			continue
		}
		if !hasVal {
			if i+1 >= len(flags) {
				return nil, nil, errors.New("-exec needs a command (e.g. -exec sudo)")
			}
			i++
			val = flags[i]
		}
		command = append([]string{}, strings.Fields(val)...)
	}
	return rest, command, nil
}

// privilegePrefix decides how the suite gains the privileges it needs,
// exactly like go test -exec: the -exec command when given; nothing when
// vtest already runs as root or with CAP_NET_ADMIN and CAP_SYS_ADMIN;
// otherwise sudo when it is installed. The build always runs as the user.
func privilegePrefix(execCmd []string) ([]string, error) {
	if execCmd != nil {
		if len(execCmd) > 0 {
			if _, err := exec.LookPath(execCmd[0]); err != nil {
				return nil, fmt.Errorf("-exec %s: %w", strings.Join(execCmd, " "), err)
			}
		}
		return execCmd, nil
	}
	if os.Geteuid() == 0 || nsx.CheckPrivileges() == nil {
		return nil, nil
	}
	if _, err := exec.LookPath("sudo"); err == nil {
		return []string{"sudo"}, nil
	}
	return nil, fmt.Errorf("running scenarios needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN), you are not root and sudo is not installed "+
		"(fix: run vtest as root, install sudo, or name a command that grants root with -exec, e.g. -exec doas; nothing was created): %v",
		nsx.CheckPrivileges())
}

// envFlags turns the settings the suite reads from the environment into
// flags, since sudo (the usual -exec) resets the environment: the shard
// from CI variables, VTEST_INCONCLUSIVE and NO_COLOR.
func envFlags(flags []string) []string {
	has := func(name string) bool {
		for _, f := range flags {
			if n, _, _, isFlag := cutFlag(f); isFlag && n == name {
				return true
			}
		}
		return false
	}
	if !has("shard") {
		if s, err := runner.ShardFromEnv(); err == nil && s != "" {
			flags = append([]string{"-shard", s}, flags...)
		}
	}
	if v := os.Getenv("VTEST_INCONCLUSIVE"); v != "" && !has("inconclusive") {
		flags = append([]string{"-inconclusive", v}, flags...)
	}
	if !has("color") && os.Getenv("NO_COLOR") != "" {
		flags = append([]string{"-color", "never"}, flags...)
	}
	return flags
}
