package fix

import (
	"encoding/json"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// A file that is JSON stays JSON: the YAML fragments fix inserts (values,
// flow mappings and sequences) are written in JSON syntax there.

// jsonDoc reports whether src is JSON text (starts with { or [).
func jsonDoc(src string) bool {
	s := strings.TrimLeft(src, " \t\r\n\ufeff")
	return strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")
}

// toJSON rewrites an inserted YAML fragment for a JSON document: a value
// ("RuntimeDefault", `["ALL"]`, "{type: RuntimeDefault}"), or the pairs or
// items added to a flow mapping or sequence (", k: v", ", item").
func toJSON(fragment string, within yaml.Kind) (string, error) {
	sep := ""
	if rest, ok := strings.CutPrefix(fragment, ", "); ok {
		sep, fragment = ", ", rest
	}
	open, close := "", ""
	switch within {
	case yaml.MappingNode:
		open, close = "{", "}"
	case yaml.SequenceNode:
		open, close = "[", "]"
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(open+fragment+close), &doc); err != nil || len(doc.Content) == 0 {
		return "", errNotEditable
	}
	var b strings.Builder
	n := doc.Content[0]
	switch within {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteString(", ")
			}
			key, _ := json.Marshal(n.Content[i].Value)
			b.Write(key)
			b.WriteString(": ")
			b.WriteString(manifest.NodeJSON(n.Content[i+1]))
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(manifest.NodeJSON(c))
		}
	default:
		b.WriteString(manifest.NodeJSON(n))
	}
	return sep + b.String(), nil
}
