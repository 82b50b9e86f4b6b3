package checks

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// TestOneTargetWithContext runs every check fixture the way an admission
// webhook will: one object judged, the rest of the file as context. The
// findings of all those runs, object by object, are the findings of the
// file scan: no check reports on an object it was not asked to judge, and
// none loses what it reads from the context.
func TestOneTargetWithContext(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	opts := fixtureOptions(t)
	key := func(f check.Finding) string {
		return fmt.Sprint(f.CheckID, "|", f.Object, "|", f.Field, "|", f.Location.Line, "|", f.Message)
	}
	n := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		objs, errs := manifest.Parse(file, data)
		if len(errs) > 0 || len(objs) < 2 {
			continue
		}
		manifest.SetDefaultNamespace(objs, "")
		n++
		inv := inventory.New(objs)
		var want []string
		for _, f := range engine.Run(Builtin(), inv, opts).Findings {
			want = append(want, key(f))
		}
		var got []string
		for _, target := range objs {
			o := opts
			o.Target = func(x *manifest.Object) bool { return x == target }
			for _, f := range engine.Run(Builtin(), inventory.New(objs), o).Findings {
				if f.Object.Kind != target.Kind || f.Object.Name != target.Name || f.Object.Namespace != target.Namespace {
					t.Errorf("%s: judging %s reported %s on %v", file, target, f.CheckID, f.Object)
				}
				got = append(got, key(f))
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Errorf("%s: object by object %d findings, whole file %d", file, len(got), len(want))
		}
	}
	if n < 20 {
		t.Fatalf("only %d fixtures with several objects", n)
	}
}

// TestReadsDeclared judges every object of every check fixture the way an
// admission webhook with an informer cache will: the object alone, through
// engine.Judge, with a lookup holding only the kinds the check declares in
// Reads (and the object itself, as the cluster will hold it once admitted).
// Each check must find on each object exactly what the file scan finds: a
// check that reads a kind it did not declare loses findings here.
func TestReadsDeclared(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	opts := fixtureOptions(t)
	key := func(f check.Finding) string {
		return fmt.Sprint(f.CheckID, "|", f.Object, "|", f.Field, "|", f.Location.Line, "|", f.Message, "|", f.Related)
	}
	runs, found := 0, 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		objs, errs := manifest.Parse(file, data)
		if len(errs) > 0 {
			continue
		}
		manifest.SetDefaultNamespace(objs, "")
		whole := map[string][]string{} // check ID -> findings of the file scan
		for _, f := range engine.Run(Builtin(), inventory.New(objs), opts).Findings {
			whole[f.CheckID] = append(whole[f.CheckID], key(f))
		}
		for _, c := range Builtin() {
			var got []string
			for i, target := range objs {
				// in file order: with no Namespace object, the first
				// workload stands for its namespace
				var context []*manifest.Object
				at := 0
				for j, o := range objs {
					if j == i {
						at = len(context)
					}
					if j == i || reads(c, o) {
						context = append(context, o)
					}
				}
				lookup := inventory.New(context)
				if lookup.Objects[at].Object != target {
					t.Fatal("lost the target")
				}
				runs++
				for _, f := range engine.Judge([]check.Check{c}, lookup.Objects[at:at+1], lookup, opts).Findings {
					got = append(got, key(f))
				}
			}
			want := whole[c.ID]
			found += len(want)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(want, got) {
				t.Errorf("%s: %s judged object by object with its declared reads %v found\n  %v\nthe file scan\n  %v", file, c.ID, c.Reads, got, want)
			}
		}
	}
	if found < 300 {
		t.Fatalf("only %d findings over %d runs: the fixtures were not read", found, runs)
	}
	t.Logf("%d judgements, %d findings", runs, found)
}

// reads reports whether check c declares that it reads objects like o.
func reads(c check.Check, o *manifest.Object) bool {
	for _, r := range c.Reads {
		if r == o.Kind || (r == check.Workloads && object.New(o).Pod != nil) {
			return true
		}
	}
	return false
}

// TestNamespaceFindingsOnTargetsOnly: a Deployment judged with its
// Namespace as context gets no whole-namespace finding (it would land on the
// Namespace, which was not asked about); the Namespace judged gets it.
func TestNamespaceFindingsOnTargetsOnly(t *testing.T) {
	src := `apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
`
	objs, errs := manifest.Parse("ns.yaml", []byte(src))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	inv := inventory.New(objs)
	nsLevel := func(fs []check.Finding) (on []string) {
		for _, f := range fs {
			if f.CheckID == "namespace-without-networkpolicy" {
				on = append(on, f.Object.String())
			}
		}
		return on
	}
	opts := engine.Options{PSS: restrictedLatest}
	if got := nsLevel(engine.Judge(Builtin(), inv.Objects[1:], inv, opts).Findings); len(got) != 0 {
		t.Errorf("Deployment judged: namespace-level findings on %v, want none", got)
	}
	if got := nsLevel(engine.Judge(Builtin(), inv.Objects[:1], inv, opts).Findings); !slices.Equal(got, []string{"Namespace/shop"}) {
		t.Errorf("Namespace judged: namespace-level findings on %v, want [Namespace/shop]", got)
	}
	if got := nsLevel(engine.Run(Builtin(), inv, opts).Findings); !slices.Equal(got, []string{"Namespace/shop"}) {
		t.Errorf("file scan: namespace-level findings on %v, want [Namespace/shop]", got)
	}
}

// fixtureOptions are the engine options the fixtures are written for.
func fixtureOptions(t *testing.T) engine.Options {
	t.Helper()
	reg, err := Registry()
	if err != nil {
		t.Fatal(err)
	}
	return engine.Options{PSS: restrictedLatest, AllowedRegistries: []string{"registry.example.com", "*.mirror.example.com"},
		KnownCheck: func(id string) bool { _, ok := reg.Get(id); return ok }}
}
