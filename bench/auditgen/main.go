// Command auditgen writes a generated audit log (internal/corpus.AuditLog:
// the mix of requests a busy cluster's API server logs) for benchmarks:
//
//	go run ./bench/auditgen -n 200000 > audit.log
package main

import (
	"flag"
	"os"

	"github.com/rampart-k8s/rampart/internal/corpus"
)

func main() {
	n := flag.Int("n", 100000, "events")
	seed := flag.Uint64("seed", 1, "seed (the same seed, the same log)")
	flag.Parse()
	if _, err := os.Stdout.Write(corpus.AuditLog(*n, *seed)); err != nil {
		os.Exit(1)
	}
}
