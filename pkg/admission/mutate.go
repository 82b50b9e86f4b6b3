package admission

import (
	"encoding/json"
	"fmt"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// MutateLabel opts a Namespace in to /mutate: its objects get the catalog's
// non-breaking fixes at admission.
const MutateLabel = "rampart.dev/mutate"

// maxRounds bounds the rounds of fixes a mutation makes (a fix's
// alternative is tried when the first did not settle its finding).
const maxRounds = 3

// Mutate answers a request on /mutate: for a CREATE or UPDATE in a
// namespace that opts in, a JSONPatch that makes the non-breaking fixes of
// the object's findings (those that only edit the object: no object created
// beside it, nothing that brings findings of its own). The patched object is
// judged again, so what is offered settles what it fixes; an object with
// nothing left to fix gets no patch, so a second admission changes nothing.
func (r *Reviewer) Mutate(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	if req.Operation != admissionv1.Create || req.SubResource != "" {
		return resp // a running pod's spec cannot change: patching an UPDATE would fail it
	}
	if r.opts.Context == nil || !r.opts.Context.Mutates(req.Namespace) {
		return resp
	}
	context := r.opts.Context.Objects(req.Namespace)
	doc := map[string]any{}
	if err := json.Unmarshal(req.Object.Raw, &doc); err != nil {
		return resp // /validate says what is wrong with it
	}
	tried := map[string]int{} // finding -> alternatives tried
	current := req.Object.Raw
	for round := 0; round < maxRounds; round++ {
		findings, err := r.judgeWithFixes(current, req.Namespace, context)
		if err != nil {
			return resp
		}
		findings, _ = r.exempt(req, findings)
		changed := false
		for _, f := range findings {
			if r.readsContext[f.CheckID] {
				continue // judged from the cluster's objects, which may not all be there yet
			}
			key := findingKey(f)
			for tried[key] < len(f.Fixes) {
				fx := f.Fixes[tried[key]]
				tried[key]++
				if fx.Breaking || fx.Rescan || len(fx.Creates) > 0 || fx.Alone {
					break // a person decides those
				}
				// On a copy: a fix is made whole or not at all.
				trial := deepCopy(doc)
				if applyEdits(trial, fx.Edits) {
					doc, changed = trial, true
					break
				}
			}
		}
		if !changed {
			break
		}
		next, err := json.Marshal(doc)
		if err != nil {
			return resp
		}
		current = next
	}
	ops, err := jsonpatch.CreatePatch(req.Object.Raw, current)
	if err != nil || len(ops) == 0 {
		return resp
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return resp
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = patch, &pt
	return resp
}

// judgeWithFixes is judge with the fixes of the findings computed.
func (r *Reviewer) judgeWithFixes(raw []byte, namespace string, context []*manifest.Object) ([]check.Finding, error) {
	e := r.engineOptions() // a copy: requests are judged concurrently
	e.Fixes = true
	obj, err := decode(raw, namespace)
	if err != nil {
		return nil, err
	}
	return r.judge(e, obj, context)
}

// deepCopy copies a JSON document.
func deepCopy(doc map[string]any) map[string]any {
	b, err := json.Marshal(doc)
	if err != nil {
		return doc
	}
	out := map[string]any{}
	if json.Unmarshal(b, &out) != nil {
		return doc
	}
	return out
}

// applyEdits makes set edits on a JSON document; it reports whether the
// document changed. An edit it cannot make (a delete, an append, a path
// through something that is not an object or list) leaves it unchanged.
func applyEdits(doc map[string]any, edits []check.Edit) bool {
	changed := false
	for _, e := range edits {
		if e.Op != "set" {
			return false
		}
		var value any
		if err := yaml.Unmarshal([]byte(e.Value), &value); err != nil {
			return false
		}
		ok, ch := setPath(doc, manifest.ParsePath(e.Path), value, e.IfMissing)
		if !ok {
			return false
		}
		changed = changed || ch
	}
	return changed
}

// setPath sets value at segs in doc, making the objects on the way; with
// ifMissing a value already there is kept.
func setPath(doc map[string]any, segs []manifest.Segment, value any, ifMissing bool) (ok, changed bool) {
	var cur any = doc
	for i, s := range segs {
		last := i == len(segs)-1
		if s.Index >= 0 {
			list, isList := cur.([]any)
			if !isList || s.Index >= len(list) {
				return false, false
			}
			if last {
				return false, false // fixes set fields, not whole items
			}
			cur = list[s.Index]
			continue
		}
		m, isMap := cur.(map[string]any)
		if !isMap {
			return false, false
		}
		if last {
			old, exists := m[s.Key]
			if exists && (ifMissing || fmt.Sprint(old) == fmt.Sprint(value)) {
				return true, false
			}
			m[s.Key] = value
			return true, true
		}
		next, exists := m[s.Key]
		if !exists || next == nil {
			next = map[string]any{}
			m[s.Key] = next
		}
		cur = next
	}
	return false, false
}
