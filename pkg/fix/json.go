package fix

import (
	"encoding/json"
	"strings"

	"gopkg.in/yaml.v3"
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
			writeJSONNode(&b, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: n.Content[i].Value})
			b.WriteString(": ")
			writeJSONNode(&b, n.Content[i+1])
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONNode(&b, c)
		}
	default:
		writeJSONNode(&b, n)
	}
	return sep + b.String(), nil
}

func writeJSONNode(b *strings.Builder, n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteString("{")
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONNode(b, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: n.Content[i].Value})
			b.WriteString(": ")
			writeJSONNode(b, n.Content[i+1])
		}
		b.WriteString("}")
	case yaml.SequenceNode:
		b.WriteString("[")
		for i, c := range n.Content {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONNode(b, c)
		}
		b.WriteString("]")
	default:
		switch n.ShortTag() {
		case "!!int", "!!float", "!!bool", "!!null":
			b.WriteString(n.Value)
		default:
			q, _ := json.Marshal(n.Value)
			b.Write(q)
		}
	}
}
