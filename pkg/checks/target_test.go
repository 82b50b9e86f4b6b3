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
)

// TestOneTargetWithContext runs every check fixture the way an admission
// webhook will: one object judged, the rest of the file as context. The
// findings of all those runs, object by object, are the findings of the
// file scan: no check reports on an object it was not asked to judge, and
// none loses what it reads from the context.
func TestOneTargetWithContext(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	reg, err := Registry()
	if err != nil {
		t.Fatal(err)
	}
	opts := engine.Options{PSS: restrictedLatest, AllowedRegistries: []string{"registry.example.com", "*.mirror.example.com"},
		KnownCheck: func(id string) bool { _, ok := reg.Get(id); return ok }}
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
