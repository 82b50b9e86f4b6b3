// Command corpus writes the benchmark corpus: go run ./bench/corpus -n 10000 -out DIR.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rampart-k8s/rampart/internal/corpus"
)

func main() {
	n := flag.Int("n", 10000, "number of objects, at least")
	out := flag.String("out", "bench/results/corpus", "folder to write")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	objs := 0
	files := corpus.Generate(*n, *seed)
	for _, f := range files {
		p := filepath.Join(*out, f.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := os.WriteFile(p, f.Content, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		objs += f.Objects
	}
	fmt.Printf("%d objects in %d files under %s\n", objs, len(files), *out)
}
