// Placeholder: prints the version it was built from.
package main

import (
	"fmt"
	"os"
)

// Set by scripts/kubevirt-tools.sh (-X).
var edgeVersion, edgeCommit string

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Printf("cdi %s %s\n", edgeVersion, edgeCommit)
		return
	}
	fmt.Fprintln(os.Stderr, "usage: --version")
	os.Exit(2)
}
