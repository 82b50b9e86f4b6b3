// Command realworld writes the plain-YAML part of the real-world corpus
// (internal/realworld: public install bundles, fetched through the Go module
// proxy) into one folder, for whole-process comparisons with tools that read
// only plain files: go run ./bench/realworld -out DIR.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rampart-k8s/rampart/internal/realworld"
)

func main() {
	out := flag.String("out", "bench/results/realworld", "folder to write")
	flag.Parse()
	files := 0
	var size int64
	for _, m := range realworld.Corpus {
		dir, err := realworld.Fetch(m)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, in := range m.Inputs {
			if in.Kind != realworld.Bundle {
				continue
			}
			data, err := os.ReadFile(realworld.Path(dir, in))
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			name := strings.NewReplacer("/", "_", "@", "_").Replace(m.Path + "_" + in.Path)
			if err := os.MkdirAll(*out, 0o755); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			if err := os.WriteFile(filepath.Join(*out, name), data, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			files++
			size += int64(len(data))
		}
	}
	fmt.Printf("%d bundles, %d MiB under %s\n", files, size>>20, *out)
}
