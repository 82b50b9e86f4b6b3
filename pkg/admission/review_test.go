package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/pod-security-admission/api"
	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/config"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/suppress"
)

var restricted = engine.Options{PSS: api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}}

func sev(s check.Severity) *check.Severity { return &s }

func reviewer() *Reviewer {
	return NewReviewer(Options{Checks: checks.Builtin(), Engine: restricted, Enforce: sev(check.High), Warn: sev(check.Medium), Audit: sev(check.Low)})
}

func request(t testing.TB, op admissionv1.Operation, obj, old []byte) *admissionv1.AdmissionRequest {
	t.Helper()
	return &admissionv1.AdmissionRequest{UID: "u-1", Operation: op, Object: runtime.RawExtension{Raw: obj}, OldObject: runtime.RawExtension{Raw: old}}
}

// catalogWithoutSchema is the catalog the webhook runs.
func catalogWithoutSchema() []check.Check {
	var out []check.Check
	for _, c := range checks.Builtin() {
		if c.ID != "schema" {
			out = append(out, c)
		}
	}
	return out
}

// fixtureObjects are the single objects of the catalog's fixtures, as
// YAML documents with their file.
func fixtureObjects(t *testing.T) (docs []string, files []string) {
	t.Helper()
	paths, _ := filepath.Glob("../checks/testdata/*/*.yaml")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		objs, errs := manifest.Parse(p, data)
		if len(errs) > 0 || len(objs) != 1 {
			continue // several objects: context the request alone does not carry
		}
		docs, files = append(docs, string(data)), append(files, p)
	}
	return docs, files
}

// TestReviewEqualsScan: every single-object fixture of the catalog, sent as
// the API server sends it (JSON), gets the findings the scanner reports on
// the YAML file, check for check and field for field, and is denied exactly
// when one of them is at or above the enforce severity.
func TestReviewEqualsScan(t *testing.T) {
	r := reviewer()
	docs, files := fixtureObjects(t)
	denied := 0
	for i, doc := range docs {
		raw, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", files[i], err)
		}
		objs, _ := manifest.Parse(files[i], []byte(doc))
		manifest.SetDefaultNamespace(objs, "")
		var want []string
		wantDeny := false
		// As the webhook judges: no schema check (the API server validates
		// what it sends), and the object's own ignore annotations do not
		// count.
		scanOpts := restricted
		scanOpts.Suppress = &suppress.Rules{NoAnnotations: true}
		for _, f := range engine.Run(catalogWithoutSchema(), inventory.New(objs), scanOpts).Findings {
			want = append(want, f.CheckID+"|"+f.Field+"|"+f.Message)
			wantDeny = wantDeny || f.Severity >= check.High
		}
		d := r.Review(request(t, admissionv1.Create, raw, nil))
		var got []string
		for _, f := range d.Findings {
			got = append(got, f.CheckID+"|"+f.Field+"|"+f.Message)
			if f.Location != nil {
				t.Errorf("%s: a finding with a file location: %+v", files[i], f.Location)
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Errorf("%s: review found\n  %v\nthe scan\n  %v", files[i], got, want)
		}
		if d.Response.Allowed == wantDeny {
			t.Errorf("%s: allowed %v, want %v", files[i], d.Response.Allowed, !wantDeny)
		}
		if d.Response.UID != "u-1" {
			t.Errorf("%s: response UID %q", files[i], d.Response.UID)
		}
		if !d.Response.Allowed {
			denied++
			if !strings.Contains(d.Response.Result.Message, "rampart: ") {
				t.Errorf("%s: denial without a message", files[i])
			}
		}
	}
	if len(docs) < 150 || denied < 45 {
		t.Fatalf("only %d fixtures, %d denied", len(docs), denied)
	}
	t.Logf("%d fixtures, %d denied", len(docs), denied)
}

const privileged = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"shop","labels":{"a":"1"}},
"spec":{"containers":[{"name":"c","image":"registry.example.com/c:1.0","securityContext":{"privileged":true}}]}}`

// TestReviewModes: warnings within the API server's limits, most severe
// first; audit annotations; an UPDATE that only relabels a non-compliant
// object is allowed, one that makes it worse is not; deletes pass.
func TestReviewModes(t *testing.T) {
	r := reviewer()
	d := r.Review(request(t, admissionv1.Create, []byte(privileged), nil))
	if d.Response.Allowed || !strings.Contains(d.Response.Result.Message, "pss-privileged") {
		t.Fatalf("privileged pod: %+v", d.Response)
	}
	total := 0
	for i, w := range d.Response.Warnings {
		total += len(w)
		if len(w) > maxWarning {
			t.Errorf("warning of %d characters", len(w))
		}
		if i == 0 && !strings.HasPrefix(w, "critical ") {
			t.Errorf("first warning %q, want the most severe", w)
		}
	}
	if total > maxWarningTotal || len(d.Response.Warnings) == 0 {
		t.Errorf("%d warnings, %d bytes", len(d.Response.Warnings), total)
	}
	if !strings.Contains(d.Response.AuditAnnotations["findings"], "pss-privileged") {
		t.Errorf("audit annotations %v", d.Response.AuditAnnotations)
	}
	relabelled := strings.Replace(privileged, `"a":"1"`, `"a":"2"`, 1)
	if d := r.Review(request(t, admissionv1.Update, []byte(relabelled), []byte(privileged))); !d.Response.Allowed {
		t.Errorf("relabelling an existing object denied: %s", d.Response.Result.Message)
	}
	worse := strings.Replace(privileged, `"privileged":true`, `"privileged":true,"runAsUser":0`, 1)
	if d := r.Review(request(t, admissionv1.Update, []byte(worse), []byte(privileged))); d.Response.Allowed {
		t.Error("an update that runs as root allowed")
	}
	if d := r.Review(request(t, admissionv1.Delete, nil, []byte(privileged))); !d.Response.Allowed {
		t.Error("delete denied")
	}
	if d := r.Review(request(t, admissionv1.Create, []byte(`{not json`), nil)); d.Response.Allowed || d.Response.Result == nil {
		t.Error("a malformed object allowed")
	}
}

func post(t testing.TB, h http.Handler, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func reviewBody(t testing.TB, obj string) []byte {
	t.Helper()
	b, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: typeMeta(),
		Request:  &admissionv1.AdmissionRequest{UID: "u-2", Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: []byte(obj)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHandler: the HTTP side: a review in, a review out with the UID;
// bodies that are not reviews, too big, or of another version; health and
// metrics.
func TestHandler(t *testing.T) {
	h := NewHandler(reviewer(), NewMetrics())
	rec := post(t, h, reviewBody(t, privileged))
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if out.Response.UID != "u-2" || out.Response.Allowed || out.APIVersion != "admission.k8s.io/v1" {
		t.Errorf("response %+v", out)
	}
	for name, tc := range map[string]struct {
		body []byte
		code int
	}{
		"not json":   {[]byte("{"), http.StatusBadRequest},
		"no request": {[]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), http.StatusBadRequest},
		"too big":    {bytes.Repeat([]byte(" "), MaxRequestBytes+1), http.StatusRequestEntityTooLarge},
	} {
		if rec := post(t, h, tc.body); rec.Code != tc.code {
			t.Errorf("%s: %d, want %d", name, rec.Code, tc.code)
		}
	}
	v1beta1 := bytes.Replace(reviewBody(t, privileged), []byte("admission.k8s.io/v1"), []byte("admission.k8s.io/v1beta1"), 1)
	rec = post(t, h, v1beta1)
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response.Allowed || out.Response.UID != "u-2" {
		t.Errorf("v1beta1 review: %d %s", rec.Code, rec.Body)
	}
	big := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"k":"` + strings.Repeat("x", 3<<20) + `"}}`
	rec = post(t, h, reviewBody(t, big))
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil || out.Response.UID != "u-2" {
		t.Errorf("3 MiB object: %d %.200s", rec.Code, rec.Body)
	}
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ok", "/metrics": "rampart_admission_decisions_total{decision=\"denied\"}"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s: %d %.300s", path, rec.Code, rec.Body)
		}
	}
	h.SetReady(false)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/validate", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /validate: %d", rec.Code)
	}
}

// FuzzValidate: whatever body arrives, the handler answers without a panic
// and a review it answers carries the request's UID.
func FuzzValidate(f *testing.F) {
	f.Add(reviewBody(f, privileged))
	f.Add(reviewBody(f, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"x"}]}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","operation":"UPDATE","object":{"kind":"Pod"},"oldObject":null}}`))
	f.Add([]byte("{}"))
	h := NewHandler(reviewer(), NewMetrics())
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := post(t, h, body)
		if rec.Code != http.StatusOK {
			return
		}
		var out admissionv1.AdmissionReview
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
			t.Fatalf("200 without a review: %s", rec.Body)
		}
		var in admissionv1.AdmissionReview
		if json.Unmarshal(body, &in) == nil && in.Request != nil && in.Request.UID != out.Response.UID {
			t.Fatalf("UID %q answered as %q", in.Request.UID, out.Response.UID)
		}
	})
}

// BenchmarkValidate: one Deployment review through the HTTP handler with
// the whole catalog (no network).
func BenchmarkValidate(b *testing.B) {
	h := NewHandler(reviewer(), NewMetrics())
	body := reviewBody(b, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"},
"spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
"spec":{"containers":[{"name":"web","image":"registry.example.com/web:1.0","ports":[{"containerPort":8080}],
"resources":{"limits":{"cpu":"1","memory":"256Mi"}},"securityContext":{"allowPrivilegeEscalation":false}}]}}}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rec := post(b, h, body); rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

// optIn is a Context for unit tests: every namespace opts in to mutation,
// the flags' modes apply, and there is no other object.
type optIn struct{}

func (optIn) Objects(string) []*manifest.Object { return nil }
func (optIn) Modes(_ string, d [3]*check.Severity) ([3]*check.Severity, []string) {
	return d, nil
}
func (optIn) Mutates(string) bool { return true }

// TestMutate: the patch makes the non-breaking fixes and the patched object
// has none of those findings left (an alternative is tried when the first
// did not settle it); a second admission of the patched object adds no
// patch; breaking fixes are left to a person.
func TestMutate(t *testing.T) {
	r := NewReviewer(Options{Checks: checks.Builtin(), Engine: restricted, Enforce: sev(check.High), Context: optIn{}})
	const bare = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"shop"},
"spec":{"containers":[{"name":"c","image":"registry.example.com/c:1.0","securityContext":{"runAsNonRoot":false}}]}}`
	resp := r.Mutate(request(t, admissionv1.Create, []byte(bare), nil))
	if resp.Patch == nil || resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch || !resp.Allowed {
		t.Fatalf("no patch: %+v", resp)
	}
	patch, err := jsonpatch.DecodePatch(resp.Patch)
	if err != nil {
		t.Fatal(err)
	}
	patched, err := patch.Apply([]byte(bare))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Review(request(t, admissionv1.Create, patched, nil)).Findings {
		switch f.CheckID {
		case "pss-allow-privilege-escalation", "pss-run-as-non-root", "pss-seccomp-restricted", "pss-capabilities-restricted":
			t.Errorf("patched object still has %s: %s\n%s", f.CheckID, f.Message, patched)
		}
	}
	if d := r.Review(request(t, admissionv1.Create, patched, nil)); !d.Response.Allowed {
		t.Errorf("the patched pod is denied: %s", d.Response.Result.Message)
	}
	if again := r.Mutate(request(t, admissionv1.Create, patched, nil)); again.Patch != nil {
		t.Errorf("a second admission patches again: %s", again.Patch)
	}
	// Breaking: a privileged container stays privileged.
	if resp := r.Mutate(request(t, admissionv1.Create, []byte(privileged), nil)); resp.Patch != nil && strings.Contains(string(resp.Patch), "privileged") {
		t.Errorf("a breaking fix was made: %s", resp.Patch)
	}
	// A namespace that does not opt in, or no context at all: no patch.
	if resp := reviewer().Mutate(request(t, admissionv1.Create, []byte(bare), nil)); resp.Patch != nil {
		t.Errorf("patched without a context: %s", resp.Patch)
	}
}

// TestExemptions: an exemption lets the requests it matches (namespace and
// user or group) skip its checks; the audit annotation says which and why;
// other namespaces and users are judged as before.
func TestExemptions(t *testing.T) {
	r := NewReviewer(Options{Checks: checks.Builtin(), Engine: restricted, Enforce: sev(check.High), Exemptions: []config.Exemption{
		{Namespaces: []string{"legacy-*"}, Groups: []string{"platform-admins"}, Checks: []string{"pss-*"}, Reason: "legacy agents move to restricted in Q3"},
	}})
	req := func(ns, user string, groups ...string) *admissionv1.AdmissionRequest {
		q := request(t, admissionv1.Create, []byte(strings.Replace(privileged, `"namespace":"shop"`, `"namespace":"`+ns+`"`, 1)), nil)
		q.Namespace, q.UserInfo.Username, q.UserInfo.Groups = ns, user, groups
		return q
	}
	d := r.Review(req("legacy-agents", "alice", "platform-admins"))
	if !d.Response.Allowed {
		t.Fatalf("exempted request denied: %s", d.Response.Result.Message)
	}
	if got := d.Response.AuditAnnotations["exempted"]; !strings.Contains(got, "pss-privileged (legacy agents move to restricted in Q3)") {
		t.Errorf("audit annotation %q", got)
	}
	for _, q := range []*admissionv1.AdmissionRequest{req("legacy-agents", "bob", "developers"), req("shop", "alice", "platform-admins")} {
		if d := r.Review(q); d.Response.Allowed {
			t.Errorf("%s by %s: allowed without an exemption", q.Namespace, q.UserInfo.Username)
		}
	}
}

// TestReviewCannotBeTalkedOut: what a request's author controls does not
// lower the verdict: the object's own ignore annotations; ephemeral
// containers added with kubectl debug; an update that changes an existing
// host path's target (the same finding, a new risk). /mutate leaves
// updates alone (a running pod's spec cannot change).
func TestReviewCannotBeTalkedOut(t *testing.T) {
	r := reviewer()
	annotated := strings.Replace(privileged, `"labels":{"a":"1"}`, `"labels":{"a":"1"},"annotations":{"rampart.dev/ignore":"pss-privileged: we need it"}`, 1)
	if d := r.Review(request(t, admissionv1.Create, []byte(annotated), nil)); d.Response.Allowed || !strings.Contains(d.Response.Result.Message, "pss-privileged") {
		t.Error("a privileged pod's own ignore annotation silenced pss-privileged")
	}
	debug := request(t, admissionv1.Update, []byte(privileged), []byte(strings.Replace(privileged, `"privileged":true`, `"privileged":false`, 1)))
	debug.SubResource = "ephemeralcontainers"
	if d := r.Review(debug); d.Response.Allowed {
		t.Error("a privileged container added through pods/ephemeralcontainers admitted")
	}
	const hostPath = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"shop"},"spec":{"containers":[{"name":"c","image":"i"}],"volumes":[{"name":"logs","hostPath":{"path":"PATH"}}]}}`
	old, wider := strings.Replace(hostPath, "PATH", "/var/log", 1), strings.Replace(hostPath, "PATH", "/", 1)
	if d := r.Review(request(t, admissionv1.Update, []byte(wider), []byte(old))); d.Response.Allowed {
		t.Error("an update that mounts the host's / instead of /var/log admitted")
	}
	m := NewReviewer(Options{Checks: checks.Builtin(), Engine: restricted, Context: optIn{}})
	bare := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"shop"},"spec":{"containers":[{"name":"c","image":"i"}]}}`
	if resp := m.Mutate(request(t, admissionv1.Update, []byte(bare), []byte(bare))); resp.Patch != nil {
		t.Errorf("an update patched: %s", resp.Patch)
	}
	// Nothing enforced: an object that cannot be judged is admitted, with a warning.
	lenient := NewReviewer(Options{Checks: checks.Builtin(), Engine: restricted})
	if d := lenient.Review(request(t, admissionv1.Create, []byte(`{not json`), nil)); !d.Response.Allowed || len(d.Response.Warnings) == 0 {
		t.Errorf("enforce none: %+v", d.Response)
	}
}

// TestHandlerBoundsConcurrentReviews: with every slot taken, a review waits
// and, when its caller gives up, is answered 503 without being read.
func TestHandlerBoundsConcurrentReviews(t *testing.T) {
	h := NewHandler(reviewer(), NewMetrics())
	for i := 0; i < cap(h.slots); i++ {
		h.slots <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(reviewBody(t, privileged))).WithContext(ctx)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("a review past the bound: %d", rec.Code)
	}
	<-h.slots // one slot free: the next review is answered
	if rec := post(t, h, reviewBody(t, privileged)); rec.Code != http.StatusOK {
		t.Errorf("with a free slot: %d", rec.Code)
	}
}
