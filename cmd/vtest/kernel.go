package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/vtest-dev/vtest/internal/vm"
	"github.com/vtest-dev/vtest/reports"
	"github.com/vtest-dev/vtest/runner"
)

// ExitInfrastructure is vtest kernel's exit code when the VM produced no
// trustworthy result (it is neither a pass nor a fail).
const ExitInfrastructure = 3

const kernelUsage = `usage: vtest kernel --kernel PATH [--modules DIR] [--mem 512M] [--smp N] [--append ARG]... [--timeout 5m] [--accel kvm|tcg] [--junit FILE] [--keep-work] [--bzimage] [run flags] PATH...

Builds the scenarios at PATH as a static suite, packs it as /init of an
initramfs with the kernel's network modules, boots it under QEMU
(KVM if a probe boot works, else TCG), and prints the results like vtest run.
A bzImage is booted through its uncompressed kernel's PVH entry (extracted
once and cached; faster under TCG) unless --bzimage is given or extraction
is not possible.
--append adds to the kernel command line (repeatable), e.g.
sysctl.net.ipv4.neigh.default.gc_thresh3=4096 to size the VM's neighbour
table for 1000-node scenarios (the kernel applies sysctl.* itself).
--smp gives the VM N virtual CPUs (default 1).
Run flags such as -run and -count are passed to the suite in the VM.
Exit codes: as vtest run, and 3 when the VM gave no trustworthy result.
`

func kernelCmd(args []string, stdout, stderr io.Writer) int {
	cfg := vm.Config{Mem: "512M", Timeout: 5 * time.Minute}
	junit := ""
	keepWork, bzImage := false, false
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal, isFlag := cutFlag(a)
		if !isFlag {
			rest = append(rest, a)
			continue
		}
		take := func() string {
			if hasVal {
				return val
			}
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch name {
		case "h", "help":
			fmt.Fprint(stdout, kernelUsage)
			return 0
		case "kernel":
			cfg.Kernel = take()
		case "modules":
			cfg.Modules = take()
		case "mem":
			cfg.Mem = take()
		case "append":
			cfg.Append = append(cfg.Append, take())
		case "smp":
			n, err := strconv.Atoi(take())
			if err != nil || n < 1 || n > 64 {
				fmt.Fprintf(stderr, "vtest kernel: --smp wants a number of CPUs, 1..64\n%s", kernelUsage)
				return runner.ExitUsage
			}
			cfg.SMP = n
		case "accel":
			cfg.Accel = take()
		case "junit":
			junit = take()
		case "keep-work":
			keepWork = true
		case "bzimage":
			bzImage = true
		case "timeout":
			d, err := time.ParseDuration(take())
			if err != nil || d <= 0 {
				fmt.Fprintf(stderr, "vtest kernel: bad --timeout\n%s", kernelUsage)
				return runner.ExitUsage
			}
			cfg.Timeout = d
		default:
			rest = append(rest, a)
		}
	}
	flags, paths := splitArgs(rest)
	switch {
	case cfg.Kernel == "":
		fmt.Fprintf(stderr, "vtest kernel: --kernel is required\n%s", kernelUsage)
		return runner.ExitUsage
	case len(paths) == 0:
		fmt.Fprintf(stderr, "vtest kernel: no PATH given\n%s", kernelUsage)
		return runner.ExitUsage
	case cfg.Accel != "" && cfg.Accel != "kvm" && cfg.Accel != "tcg":
		fmt.Fprintf(stderr, "vtest kernel: --accel must be kvm or tcg\n")
		return runner.ExitUsage
	}
	if _, err := os.Stat(cfg.Kernel); err != nil {
		fmt.Fprintf(stderr, "vtest kernel: %v\n", err)
		return runner.ExitUsage
	}
	work, err := os.MkdirTemp("", "vtest-kernel-")
	if err != nil {
		fmt.Fprintf(stderr, "vtest kernel: %v\n", err)
		return runner.ExitUsage
	}
	cfg.WorkDir = work
	if c, err := os.UserCacheDir(); err == nil && !bzImage {
		cfg.Cache = c + "/vtest/kernels"
	}
	cfg.Suite = work + "/suite"
	cfg.Args = flags
	if _, _, err := suiteBinary(paths, cfg.Suite, true, stderr); err != nil {
		fmt.Fprintf(stderr, "vtest kernel: %v\n", err)
		return runner.ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := vm.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "vtest kernel: %v\n(work files kept in %s)\n", err, work)
		if errors.Is(err, vm.ErrInfrastructure) {
			return ExitInfrastructure
		}
		return runner.ExitUsage
	}
	if keepWork {
		fmt.Fprintf(stderr, "work files (initramfs, console log, report) kept in %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	fmt.Fprint(stdout, res.Console)
	fmt.Fprintf(stdout, "kernel %s under QEMU (%s, %s): %.1fs from boot to result\n", res.Kernel, res.Accel, res.Boot, res.Elapsed.Seconds())
	if junit != "" {
		if err := writeJUnit(junit, res.JUnit); err != nil {
			fmt.Fprintf(stderr, "vtest kernel: %v\n", err)
			return runner.ExitUsage
		}
	}
	return res.Exit
}

// writeJUnit writes the JUnit report b at path as every report is written:
// a new file put in place, never written through whatever path names, and
// given to the user behind sudo in their own directories
// (reports.WriteFileAtomic).
func writeJUnit(path string, b []byte) error {
	return reports.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
