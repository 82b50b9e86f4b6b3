// Command pad adds an annotation of about N bytes of text to every object of
// a YAML stream (stdin to stdout), so that a benchmark file reaches a size
// with the same number of objects: go run ./bench/pad -bytes 500 <in >out.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

func main() {
	n := flag.Int("bytes", 500, "annotation size in bytes")
	flag.Parse()
	if err := pad(os.Stdin, os.Stdout, *n); err != nil {
		fmt.Fprintln(os.Stderr, "pad:", err)
		os.Exit(1)
	}
}

func pad(in io.Reader, out io.Writer, size int) error {
	words := strings.Fields("alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega service payment order cart user login cache queue worker")
	rng := rand.New(rand.NewPCG(1, 2))
	dec := yaml.NewDecoder(in)
	enc := yaml.NewEncoder(out)
	enc.SetIndent(2)
	defer enc.Close()
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if len(doc.Content) == 1 {
			if meta := get(doc.Content[0], "metadata"); meta != nil {
				ann := get(meta, "annotations")
				if ann == nil {
					ann = &yaml.Node{Kind: yaml.MappingNode}
					meta.Content = append(meta.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "annotations"}, ann)
				}
				var b strings.Builder
				for b.Len() < size {
					b.WriteString(words[rng.IntN(len(words))] + " ")
				}
				ann.Content = append(ann.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "example.com/description"},
					&yaml.Node{Kind: yaml.ScalarNode, Value: strings.TrimSpace(b.String())})
			}
		}
		if err := enc.Encode(&doc); err != nil {
			return err
		}
	}
}

func get(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
