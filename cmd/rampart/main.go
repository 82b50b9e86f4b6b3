// Command rampart is Kubernetes hardening as code.
package main

import (
	"os"

	"github.com/rampart-k8s/rampart/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
