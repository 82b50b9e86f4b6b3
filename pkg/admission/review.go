// Package admission judges Kubernetes admission requests with the scanner's
// catalog: the object of a CREATE or UPDATE is the one target, its context
// is what the request carries (and, later, an informer cache), and the
// verdict follows severities as `scan --fail-on` does: findings at or above
// Enforce deny the request, at or above Warn come back as API-server
// warnings, at or above Audit as an audit annotation. The HTTP handler
// (server.go) speaks AdmissionReview v1.
package admission

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	sigsjson "sigs.k8s.io/json"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/config"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/object"
	"github.com/rampart-k8s/rampart/pkg/secret"
	"github.com/rampart-k8s/rampart/pkg/suppress"
)

// The API server's limits on warnings: each at most 256 characters, all of
// them at most 4 KiB.
const (
	maxWarning = 256
	// maxWarningTotal leaves half the API server's 4 KiB to the other
	// admission plugins (Pod Security Admission's warnings).
	maxWarningTotal = 2 << 10
	// maxMessage bounds a denial's message (the API server shows it to the
	// user whole).
	maxMessage = 4 << 10
)

// Options say what a Reviewer judges and how it decides.
type Options struct {
	// Checks and Engine are the catalog and the options a scan would use
	// (the scan plan's); suppression annotations on the object apply.
	Checks []check.Check
	Engine engine.Options
	// Enforce, Warn and Audit are the lowest severities that deny, warn
	// and annotate; nil turns the mode off. A Namespace's labels override
	// them when Context is set.
	Enforce, Warn, Audit *check.Severity
	// Exemptions let matching requests skip checks, with a reason
	// (.rampart.yaml admission.exemptions).
	Exemptions []config.Exemption
	// Context, when set, gives the objects the checks read besides the
	// request's (the cluster's, from informer caches) and the namespace's
	// modes; nil judges the request alone.
	Context Context
}

// Context is what the cluster tells about a request's namespace.
type Context interface {
	// Objects are the context objects of a request in namespace ns.
	Objects(ns string) []*manifest.Object
	// Modes are the enforce, warn and audit severities in namespace ns,
	// and what is wrong with the labels that set them.
	Modes(ns string, defaults [3]*check.Severity) ([3]*check.Severity, []string)
	// Mutates reports whether namespace ns opts in to /mutate.
	Mutates(ns string) bool
}

// Reviewer answers admission requests.
type Reviewer struct {
	opts Options
	// readsContext are the checks that read the cluster's objects beyond
	// the Namespace (bindings, policies): their fixes are not made at
	// admission, where a binding may not have reached the cache yet.
	readsContext map[string]bool
}

// NewReviewer returns a Reviewer.
func NewReviewer(opts Options) *Reviewer {
	opts.Engine.Fixes, opts.Engine.Target = false, nil
	opts.Engine.Workers = 1 // one object: the requests are the parallelism
	// What the API server sends has passed its own validation; fields newer
	// than this build's API types would read as unknown and deny every pod.
	checks := make([]check.Check, 0, len(opts.Checks))
	for _, c := range opts.Checks {
		if c.ID != "schema" {
			checks = append(checks, c)
		}
	}
	// In the engine's order: it then shares the catalog with each result
	// instead of copying it.
	slices.SortFunc(checks, func(a, b check.Check) int { return strings.Compare(a.ID, b.ID) })
	opts.Checks = checks
	reads := map[string]bool{}
	for _, c := range checks {
		for _, k := range c.Reads {
			reads[c.ID] = reads[c.ID] || k != "Namespace" // the Namespace is always there
		}
	}
	return &Reviewer{opts: opts, readsContext: reads}
}

// engineOptions are the engine's options for one request: exceptions judged
// against today, and no object's own ignore annotations (an author must not
// switch a check off for their own object; exemptions are the cluster's).
func (r *Reviewer) engineOptions() engine.Options {
	e := r.opts.Engine
	rules := suppress.Rules{}
	if e.Suppress != nil {
		rules = *e.Suppress
	}
	rules.Now, rules.NoAnnotations = time.Now(), true
	e.Suppress = &rules
	return e
}

// judged reports whether a request is one a check judges: a CREATE or an
// UPDATE of the object itself, or the ephemeral containers added to a Pod
// (kubectl debug), which are judged as the Pod they join.
func judged(req *admissionv1.AdmissionRequest) bool {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return false
	}
	return req.SubResource == "" || req.SubResource == "ephemeralcontainers"
}

// Decision is a review's outcome with the findings it rests on.
type Decision struct {
	Response *admissionv1.AdmissionResponse
	Findings []check.Finding
}

// Review judges one request. It never fails: what cannot be judged (an
// object that does not decode) is denied with a message saying why, where
// something is enforced, and admitted with that warning where nothing is.
func (r *Reviewer) Review(req *admissionv1.AdmissionRequest) Decision {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	if !judged(req) {
		return Decision{Response: resp} // deletes, connects, status and scale: nothing a check judges
	}
	modes := [3]*check.Severity{r.opts.Enforce, r.opts.Warn, r.opts.Audit}
	var problems []string
	var context []*manifest.Object
	if r.opts.Context != nil {
		modes, problems = r.opts.Context.Modes(req.Namespace, modes)
		context = r.opts.Context.Objects(req.Namespace)
	}
	enforce, warn, audit := modes[0], modes[1], modes[2]
	obj, err := decode(req.Object.Raw, req.Namespace)
	var findings []check.Finding
	if err == nil && !sameSpec(req, obj) {
		findings, err = r.judge(r.engineOptions(), obj, context)
	}
	if err != nil {
		msg := "rampart: the object cannot be judged: " + err.Error()
		if enforce == nil {
			resp.Warnings = []string{truncate(msg, maxWarning)} // nothing is enforced here
			return Decision{Response: resp}
		}
		return Decision{Response: deny(req.UID, msg)}
	}
	findings, exempted := r.exempt(req, findings)
	sort.SliceStable(findings, func(i, j int) bool { return findings[i].Severity > findings[j].Severity })
	var denied []string
	warnings, warnBytes := []string(nil), 0
	for _, p := range problems {
		warnings, warnBytes = append(warnings, truncate(p, maxWarning)), warnBytes+len(truncate(p, maxWarning))
	}
	var audited []string
	for _, f := range findings {
		line := describe(f)
		if enforce != nil && f.Severity >= *enforce {
			denied = append(denied, line)
		}
		if warn != nil && f.Severity >= *warn {
			w := truncate(line, maxWarning)
			if warnBytes+len(w) <= maxWarningTotal {
				warnings = append(warnings, w)
				warnBytes += len(w)
			}
		}
		if audit != nil && f.Severity >= *audit {
			audited = append(audited, f.CheckID)
		}
	}
	resp.Warnings = warnings
	if len(audited) > 0 || len(exempted) > 0 {
		resp.AuditAnnotations = map[string]string{}
	}
	if len(audited) > 0 {
		resp.AuditAnnotations["findings"] = strings.Join(dedupe(audited), ",")
	}
	if len(exempted) > 0 {
		resp.AuditAnnotations["exempted"] = truncate(strings.Join(exempted, "; "), maxMessage)
	}
	if len(denied) > 0 {
		msg := fmt.Sprintf("rampart: %d finding(s) at or above %s:\n- %s", len(denied), *enforce, strings.Join(denied, "\n- "))
		d := deny(req.UID, truncate(msg, maxMessage))
		d.Warnings, d.AuditAnnotations = resp.Warnings, resp.AuditAnnotations
		resp = d
	}
	return Decision{Response: resp, Findings: findings}
}

// sameSpec reports an UPDATE that leaves the pod spec as it was (labels,
// annotations, replicas): as Pod Security Admission does, it is allowed
// whatever the pod spec already held, without judging it again; one that
// changes the pod spec is judged whole.
func sameSpec(req *admissionv1.AdmissionRequest, m *manifest.Object) bool {
	if req.Operation != admissionv1.Update || len(req.OldObject.Raw) == 0 {
		return false
	}
	old, err := decode(req.OldObject.Raw, req.Namespace)
	if err != nil {
		return false
	}
	newPod, oldPod := object.New(m).Pod, object.New(old).Pod
	return newPod != nil && oldPod != nil && apiequality.Semantic.DeepEqual(oldPod.Spec, newPod.Spec)
}

// decode reads an object as the scanner reads a manifest: a built-in kind
// straight from its JSON into its type, as the API server decodes it (the
// request has no file: no positions to keep, and the schema is the API
// server's to check); any other through the manifest loader.
func decode(raw []byte, namespace string) (*manifest.Object, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("the request holds no object")
	}
	if o := decodeTyped(raw); o != nil {
		manifest.SetDefaultNamespace([]*manifest.Object{o}, namespace)
		return o, nil
	}
	objs, errs := manifest.Parse("", raw)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", secret.Message(errs[0].Message))
	}
	if len(objs) != 1 {
		return nil, fmt.Errorf("want one object, got %d", len(objs))
	}
	manifest.SetDefaultNamespace(objs, namespace)
	return objs[0], nil
}

// decodeTyped decodes raw into the scheme's type for its apiVersion and
// kind, or returns nil (an unknown kind, JSON that does not decode) for the
// manifest loader to read or to explain.
func decodeTyped(raw []byte) *manifest.Object {
	var tm metav1.TypeMeta
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, &tm); err != nil || tm.APIVersion == "" || tm.Kind == "" {
		return nil
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return nil
	}
	typed, err := scheme.Scheme.New(gv.WithKind(tm.Kind))
	if err != nil {
		return nil
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, typed); err != nil {
		return nil
	}
	m, err := meta.Accessor(typed)
	if err != nil {
		return nil
	}
	name := m.GetName()
	if name == "" {
		name = m.GetGenerateName()
	}
	return manifest.NewLiveObject(tm.APIVersion, tm.Kind, m.GetNamespace(), name, typed)
}

// judge runs the catalog on obj, with it and the context objects as its
// lookup.
func (r *Reviewer) judge(eopts engine.Options, obj *manifest.Object, context []*manifest.Object) ([]check.Finding, error) {
	lookup := inventory.New(append([]*manifest.Object{obj}, context...))
	res := engine.Judge(r.opts.Checks, []*object.Object{lookup.Objects[0]}, lookup, eopts)
	if len(res.Errors) > 0 {
		return nil, fmt.Errorf("%s", res.Errors[0].Message)
	}
	return res.Findings, nil
}

// describe is a finding as a person reads it in kubectl's output: no file,
// the field it names.
func describe(f check.Finding) string {
	s := f.Severity.String() + " " + f.CheckID + ": " + f.Message
	if f.Field != "" && !strings.Contains(f.Message, f.Field) {
		s += " (" + f.Field + ")"
	}
	return s
}

func findingKey(f check.Finding) string { return f.CheckID + "|" + f.Field + "|" + f.Message }

func deny(uid types.UID, msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{UID: uid, Allowed: false, Result: &metav1.Status{Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden, Message: msg}}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut-- // not inside a UTF-8 sequence
	}
	return s[:cut] + "…"
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// exempt removes the findings an exemption covers for this request; it
// returns the rest and, for the audit log, what was exempted and why.
func (r *Reviewer) exempt(req *admissionv1.AdmissionRequest, findings []check.Finding) ([]check.Finding, []string) {
	kept, reasons := r.exemptBy(req.Namespace, req.UserInfo.Username, req.UserInfo.Groups, findings)
	var exempted []string
	for i, f := range findings {
		if reasons[i] != "" {
			exempted = append(exempted, f.CheckID+" ("+reasons[i]+")")
		}
	}
	return kept, dedupe(exempted)
}

// exemptBy returns the findings no exemption for (ns, user, groups)
// covers, and for each finding given the reason of the exemption that
// covers it, or "". The background judges objects, not requests: it asks
// with no user, so only exemptions without users or groups apply there.
func (r *Reviewer) exemptBy(ns, user string, groups []string, findings []check.Finding) ([]check.Finding, []string) {
	reasons := make([]string, len(findings))
	var matching []config.Exemption
	for _, e := range r.opts.Exemptions {
		if e.Matches(ns, user, groups) {
			matching = append(matching, e)
		}
	}
	if len(matching) == 0 {
		return findings, reasons
	}
	var kept []check.Finding
	for i, f := range findings {
		for _, e := range matching {
			if e.Covers(f.CheckID) {
				reasons[i] = e.Reason
				break
			}
		}
		if reasons[i] == "" {
			kept = append(kept, f)
		}
	}
	return kept, reasons
}
