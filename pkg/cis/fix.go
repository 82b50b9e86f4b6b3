package cis

import (
	"errors"
	"fmt"
	"path"

	"gopkg.in/yaml.v3"

	"github.com/rampart-k8s/rampart/pkg/finding"
	"github.com/rampart-k8s/rampart/pkg/fix"
)

// FixResult is what FixText did to one file.
type FixResult struct {
	// Kind is what the file was read as: "static pod manifest of
	// kube-apiserver", "kubelet configuration"; "" when none.
	Kind    string
	Text    string
	Applied []string
	// Skipped are failed controls whose fix was not made: breaking ones
	// without asking, and ones with no value to set.
	Skipped []string
}

// maxFixRounds bounds the fix loop (each round makes one fix and judges
// the file again).
const maxFixRounds = 200

// FixText fixes a static pod manifest of a control-plane component or a
// KubeletConfiguration: the benchmark's controls on that component are
// judged on the text, the first fix is made with the text-preserving
// editor, and the text judged again, until no control it can fix fails.
// Fixes of controls marked breaking (they can cut off clients: bind
// addresses, authentication) are made only with breaking.
func (b *Benchmark) FixText(name, text string, breaking bool) (*FixResult, error) {
	res := &FixResult{Text: text}
	done := map[string]bool{}
	for round := 0; round < maxFixRounds; round++ {
		in, kind, err := b.instanceFromText(name, res.Text)
		if err != nil || in == nil {
			return res, err
		}
		res.Kind = kind
		made := false
		for _, c := range b.Controls {
			if c.Test == nil || c.Test.Component != in.comp.Name || !c.Automated {
				continue // manual controls need a person's judgement
			}
			r := b.newResult(c)
			n := &Node{Name: "file", instances: map[string]*instance{in.comp.Name: in}, ControlPlane: true}
			b.evalTest(c, n, &r)
			if r.Status != Fail {
				continue
			}
			b.findings(c, &r)
			var fx *finding.Fix
			for i := range r.Findings {
				if len(r.Findings[i].Fixes) > 0 {
					fx = &r.Findings[i].Fixes[0]
					break
				}
			}
			switch {
			case fx == nil:
				noteOnce(&res.Skipped, done, c.ID+" (no value to set: "+c.Title+")")
				continue
			case c.Breaking && !breaking:
				noteOnce(&res.Skipped, done, c.ID+" (breaking, made with --breaking: "+fx.Message+")")
				continue
			}
			out, changed, err := applyEdits(res.Text, in.rootLine, fx.Edits)
			if err != nil {
				return res, fmt.Errorf("%s: control %s: %w", name, c.ID, err)
			}
			if !changed {
				continue
			}
			res.Text = out
			res.Applied = append(res.Applied, c.ID+": "+fx.Message)
			made = true
			break
		}
		if !made {
			return res, nil
		}
	}
	return res, errors.New(name + ": fixes did not settle")
}

func noteOnce(list *[]string, seen map[string]bool, s string) {
	if !seen[s] {
		seen[s] = true
		*list = append(*list, s)
	}
}

func applyEdits(src string, rootLine int, edits []finding.Edit) (string, bool, error) {
	changed := false
	for _, e := range edits {
		var out string
		var ch bool
		var err error
		switch e.Op {
		case finding.Set:
			out, ch, err = fix.Set(src, rootLine, e.Path, e.Value)
		case finding.Delete:
			out, ch, err = fix.Delete(src, rootLine, e.Path)
		case finding.Append:
			out, ch, err = fix.Append(src, rootLine, e.Path, e.Value)
		}
		if err != nil {
			return src, false, err
		}
		src, changed = out, changed || ch
	}
	return src, changed, nil
}

// instanceFromText reads a file as a static pod manifest of a component
// with a manifest, or as a KubeletConfiguration; nil when it is neither.
func (b *Benchmark) instanceFromText(name, text string) (*instance, string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, "", fmt.Errorf("%s: %v", name, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, "", nil
	}
	root := doc.Content[0]
	switch scalar(child(root, "kind")) {
	case "KubeletConfiguration":
		in := &instance{comp: b.Components["kubelet"], cl: &CommandLine{}, config: root, configRoot: root.Line, configFile: name, configReal: name, rootLine: root.Line, source: name}
		return in, "kubelet configuration", nil
	case "KubeProxyConfiguration":
		in := &instance{comp: b.Components["proxy"], cl: &CommandLine{}, config: root, configRoot: root.Line, configFile: name, configReal: name, rootLine: root.Line, source: name}
		return in, "kube-proxy configuration", nil
	case "Pod":
		cts := child(child(root, "spec"), "containers")
		if cts == nil {
			return nil, "", nil
		}
		for _, ct := range cts.Content {
			cmd := child(ct, "command")
			bin := scalar(child(ct, "name"))
			if cmd != nil && len(cmd.Content) > 0 {
				bin = path.Base(cmd.Content[0].Value)
			}
			for _, compName := range []string{"apiserver", "controller-manager", "scheduler", "etcd", "proxy"} {
				c := b.Components[compName]
				if c == nil || c.Binary != bin {
					continue
				}
				in := &instance{comp: c}
				if err := fillFromManifest(in, c, name, name, []byte(text)); err != nil {
					return nil, "", err
				}
				return in, "static pod manifest of " + c.Binary, nil
			}
		}
	}
	return nil, "", nil
}

// IsFixable reports whether FixText reads the text (a control-plane static
// pod manifest or a kubelet or kube-proxy configuration).
func (b *Benchmark) IsFixable(text string) bool {
	in, _, err := b.instanceFromText("", text)
	return err == nil && in != nil
}
