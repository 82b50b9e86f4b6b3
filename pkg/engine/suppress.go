package engine

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
	"github.com/rampart-k8s/rampart/pkg/suppress"
)

// SuppressObject is suppressObject for findings made beside the engine
// (the images an object runs): annotations, exceptions with their
// container, the baseline.
func SuppressObject(o *object.Object, fs []check.Finding, rules *suppress.Rules) ([]check.Finding, []suppress.Suppressed, int) {
	return suppressObject(o, fs, rules)
}

// suppressObject splits an object's findings into the ones reported and the
// ones silenced: by a rampart.dev/ignore annotation with a reason (on the
// object or its pod template; .<container> for one container), by a
// configured exception that has not expired, or by the baseline. An expired
// exception silences nothing and says so in the finding's message.
func suppressObject(o *object.Object, fs []check.Finding, rules *suppress.Rules) (kept []check.Finding, silenced []suppress.Suppressed, expired int) {
	var anns []suppress.Annotation
	if rules == nil || !rules.NoAnnotations {
		anns = suppress.ParseAnnotations(o.Annotations)
		if o.Pod != nil && o.Pod.MetaPath != "metadata" {
			anns = append(anns, suppress.ParseAnnotations(o.Pod.Meta.Annotations)...)
		}
	}
	if len(anns) == 0 && (rules == nil || (len(rules.Exceptions) == 0 && rules.Baseline == nil)) {
		return fs, nil, 0
	}
findings:
	for _, f := range fs {
		container := ""
		if o.Pod != nil {
			container = o.Pod.ContainerAt(f.Field)
		}
		for _, a := range anns {
			if a.Covers(f.CheckID, container) {
				silenced = append(silenced, suppress.Suppressed{Finding: f, Kind: suppress.InSource, By: "annotation " + a.Key, Justification: a.Reason})
				continue findings
			}
		}
		if rules != nil {
			sup, note := rules.Match(f, container)
			if note != "" {
				expired++
			}
			if sup != nil {
				silenced = append(silenced, *sup)
				continue
			}
			f.Message += note
		}
		kept = append(kept, f)
	}
	return kept, silenced, expired
}
