// Command attack plays both sides of vtest's attack tests. Run as
// "attack exchange A B" it swaps the directories A and B (rename-exchange)
// until it is killed: another user racing vtest's checks. Run otherwise it
// stands for a suite binary: built with -ldflags "-X main.target=PATH" it is
// the attacker's binary and, run as root, overwrites PATH (a root-only
// file); without, it is the user's suite and only exits 0.
package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

var target string

func main() {
	if len(os.Args) == 4 && os.Args[1] == "exchange" {
		for {
			unix.Renameat2(unix.AT_FDCWD, os.Args[2], unix.AT_FDCWD, os.Args[3], unix.RENAME_EXCHANGE)
		}
	}
	if target != "" {
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			os.Exit(0) // not root: the attack failed
		}
		fmt.Fprintf(f, "pwned: the attacker's binary ran as uid %d\n", os.Geteuid())
		f.Close()
	}
}
