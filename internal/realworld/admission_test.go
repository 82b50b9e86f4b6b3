package realworld

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/admission"
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/suppress"
)

// TestReviewEqualsScanOnCorpus: every workload of the public bundles and
// rendered charts, sent to the webhook as the API server sends it (JSON,
// decoded straight into its type), gets the findings the scanner finds in
// the YAML (alone, without the schema check the API server makes, the
// object's own ignore annotations not counting).
func TestReviewEqualsScanOnCorpus(t *testing.T) {
	var catalog []check.Check
	for _, c := range checks.Builtin() {
		if c.ID != "schema" {
			catalog = append(catalog, c)
		}
	}
	opts := engine.Options{PSS: api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}}
	high := check.High
	r := admission.NewReviewer(admission.Options{Checks: catalog, Engine: opts, Enforce: &high})
	scanOpts := opts
	scanOpts.Suppress = &suppress.Rules{NoAnnotations: true}
	workloads := map[string]bool{"Pod": true, "Deployment": true, "StatefulSet": true, "DaemonSet": true, "ReplicaSet": true, "Job": true, "CronJob": true}
	judged := 0
	for _, m := range Corpus {
		dir, err := Fetch(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range m.Inputs {
			path := Path(dir, in)
			switch in.Kind {
			case Bundle:
			case Chart:
				text, _, err := helmRender(path)
				if err != nil {
					continue // inputs that do not render are TestCorpus's
				}
				path = filepath.Join(t.TempDir(), "rendered.yaml")
				if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			default:
				continue
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			objs, _ := manifest.Parse(path, data)
			// A namespace of their own: the scanner does not report the
			// default namespace where a manifest names none (-n may put it
			// elsewhere), while at admission the namespace is known.
			manifest.SetDefaultNamespace(objs, "team")
			for _, o := range objs {
				if !workloads[o.Kind] || o.Typed == nil || len(o.SchemaErrors) > 0 {
					continue // what the API server would refuse is not sent
				}
				var want []string
				for _, f := range engine.Run(catalog, inventory.New([]*manifest.Object{o}), scanOpts).Findings {
					want = append(want, f.CheckID+"|"+f.Field+"|"+f.Message)
				}
				raw, err := json.Marshal(o.Typed)
				if err != nil {
					t.Fatal(err)
				}
				d := r.Review(&admissionv1.AdmissionRequest{UID: "u", Operation: admissionv1.Create, Namespace: o.Namespace, Object: runtime.RawExtension{Raw: raw}})
				var got []string
				for _, f := range d.Findings {
					got = append(got, f.CheckID+"|"+f.Field+"|"+f.Message)
				}
				slices.Sort(want)
				slices.Sort(got)
				if !slices.Equal(want, got) {
					t.Errorf("%s@%s %s %s/%s: only the review found %v; only the scan %v", m.Path, m.Version, in.Path, o.Kind, o.Name, minus(got, want), minus(want, got))
				}
				judged++
			}
		}
	}
	if judged < 20 {
		t.Fatalf("only %d workloads judged: the corpus is not being read", judged)
	}
	t.Logf("%d workloads of the public corpus: the webhook's findings are the scanner's", judged)
}

// minus is what a holds and b does not.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
