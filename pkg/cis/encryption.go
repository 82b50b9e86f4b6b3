package cis

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rampart-k8s/rampart/pkg/finding"
)

// evalEncryption reads the file kube-apiserver's
// --encryption-provider-config names and checks that the provider that
// writes Secrets (the first of their resource entry) encrypts them with one
// of the allowed providers.
func (b *Benchmark) evalEncryption(it *Item, in *instance) (ev Evidence, ok, evaluable bool) {
	ev.Key = "--encryption-provider-config"
	ev.Expected = "Secrets written by one of " + it.Value
	p, arg := in.cl.Lookup("--encryption-provider-config", in.comp)
	if arg == nil || p == "" {
		ev.Found = "not set (Secrets are stored unencrypted)"
		ev.Source, ev.Location = in.source, in.location(-1)
		return ev, false, true
	}
	if in.readFile == nil {
		ev.Found = "the encryption configuration " + p + ", a file on the node"
		return ev, false, false
	}
	ev.Source = p
	data, err := in.readFile(p)
	if err != nil {
		ev.Found = "unreadable: " + err.Error()
		return ev, false, true
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		ev.Found = "not an EncryptionConfiguration"
		return ev, false, true
	}
	root := doc.Content[0]
	allowed := map[string]bool{}
	for _, a := range splitList(it.Value) {
		allowed[a] = true
	}
	res := child(root, "resources")
	if res == nil || res.Kind != yaml.SequenceNode {
		ev.Found = "no resources"
		return ev, false, true
	}
	for _, entry := range res.Content {
		names := child(entry, "resources")
		covers := false
		if names != nil {
			for _, n := range names.Content {
				if n.Value == "secrets" || n.Value == "*.*" || n.Value == "*." {
					covers = true
				}
			}
		}
		if !covers {
			continue
		}
		provs := child(entry, "providers")
		if provs == nil || len(provs.Content) == 0 || provs.Content[0].Kind != yaml.MappingNode || len(provs.Content[0].Content) == 0 {
			ev.Found = "no providers for secrets"
			return ev, false, true
		}
		first := provs.Content[0].Content[0]
		ev.Found = first.Value
		ev.Location = &finding.Location{File: in.realPath(p), Line: first.Line, Column: first.Column}
		ev.OK = allowed[first.Value]
		return ev, ev.OK, true
	}
	ev.Found = "secrets are not listed (" + strings.TrimSpace(p) + ")"
	return ev, false, true
}
