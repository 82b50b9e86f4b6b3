package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/object"
	"github.com/rampart-k8s/rampart/pkg/suppress"
)

// ignoreAnnotations yields the rampart.dev/ignore annotations of an object
// and of its pod template, with their field paths.
func ignoreAnnotations(o *object.Object) []struct {
	path string
	a    suppress.Annotation
} {
	var out []struct {
		path string
		a    suppress.Annotation
	}
	for _, a := range suppress.ParseAnnotations(o.Annotations) {
		out = append(out, struct {
			path string
			a    suppress.Annotation
		}{manifest.JoinKey("metadata.annotations", a.Key), a})
	}
	if o.Pod != nil && o.Pod.MetaPath != "metadata" {
		for _, a := range suppress.ParseAnnotations(o.Pod.Meta.Annotations) {
			out = append(out, struct {
				path string
				a    suppress.Annotation
			}{manifest.JoinKey(o.Pod.MetaPath+".annotations", a.Key), a})
		}
	}
	return out
}

var suppressionRefs = []check.Ref{k8sDocs("Rampart suppressions", "https://github.com/rampart-k8s/rampart/blob/main/docs/suppressions.md")}

// suppressionWithoutReason: an ignore annotation must say why. One without
// a reason does not silence anything.
func suppressionWithoutReason() check.Check {
	return check.Check{
		ID:          "suppression-without-reason",
		Title:       "Suppression without a reason",
		Severity:    check.Medium,
		Category:    check.CategorySuppression,
		Description: "A rampart.dev/ignore annotation must give its reason after a colon (\"check-id: why this is acceptable\") so that reviewers can judge it. One without a reason silences nothing, and this finding says so.",
		Remediation: "Write the annotation as \"<check-id>[,<check-id>]: <reason>\".",
		References:  suppressionRefs,
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			var out []check.Finding
			for _, s := range ignoreAnnotations(o) {
				if s.a.Reason == "" {
					out = append(out, check.NewFinding(o, s.path, "annotation "+s.a.Key+" gives no reason, so it silences nothing"))
				}
			}
			return out
		},
	}
}

// suppressionUnknownCheck: an ignore annotation naming a check that does not
// exist silences nothing, usually because of a typo.
func suppressionUnknownCheck() check.Check {
	return check.Check{
		ID:          "suppression-unknown-check",
		Title:       "Suppression names an unknown check",
		Severity:    check.Medium,
		Category:    check.CategorySuppression,
		Description: "A rampart.dev/ignore annotation names a check ID that is not in the catalog, so it silences nothing; usually a typo, or a check that was renamed.",
		Remediation: "Use the IDs that rampart checks lists.",
		References:  suppressionRefs,
		Run: func(ctx *check.Context, o *object.Object) []check.Finding {
			if ctx.KnownCheck == nil {
				return nil
			}
			var out []check.Finding
			for _, s := range ignoreAnnotations(o) {
				for _, id := range s.a.Checks {
					if !ctx.KnownCheck(id) {
						out = append(out, check.NewFinding(o, s.path, "annotation "+s.a.Key+" names unknown check "+id))
					}
				}
			}
			return out
		},
	}
}
