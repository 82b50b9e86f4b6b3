// Package suppress silences findings with a reason a reviewer can read:
// annotations on objects, exceptions in .rampart.yaml (with expiry) and
// baselines of known findings.
package suppress

import (
	"sort"
	"strings"
)

// AnnotationKey silences checks on a whole object; AnnotationKey + "." +
// container name silences them for one container.
const AnnotationKey = "rampart.dev/ignore"

// Annotation is one parsed ignore annotation:
// "<check-id>[,<check-id>...]: <reason>".
type Annotation struct {
	// Key is the annotation key; Container is the container it names, or "".
	Key, Container string
	Checks         []string
	Reason         string
}

// ParseAnnotations returns the ignore annotations among annotations, sorted
// by key.
func ParseAnnotations(annotations map[string]string) []Annotation {
	var out []Annotation
	for k, v := range annotations {
		if k != AnnotationKey && !strings.HasPrefix(k, AnnotationKey+".") {
			continue
		}
		a := Annotation{Key: k, Container: strings.TrimPrefix(strings.TrimPrefix(k, AnnotationKey), ".")}
		ids, reason, _ := strings.Cut(v, ":")
		a.Reason = strings.TrimSpace(reason)
		for _, id := range strings.Split(ids, ",") {
			if id = strings.TrimSpace(id); id != "" {
				a.Checks = append(a.Checks, id)
			}
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Covers reports whether the annotation silences checkID on container ("" for
// a finding that is not about one container).
func (a Annotation) Covers(checkID, container string) bool {
	if a.Reason == "" || (a.Container != "" && a.Container != container) {
		return false
	}
	for _, c := range a.Checks {
		if c == checkID {
			return true
		}
	}
	return false
}
