package manifest

import (
	"bytes"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary bytes to the loader: it must never panic or hang,
// every object must have a kind, and every error a file and a line.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: i}]}\n",
		"apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Service, metadata: {name: s}}]\n",
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"spec\":{\"replicas\":\"x\"}}",
		"a: &a [1]\nb: [*a, *a]\n---\n---\n...\n",
		"apiVersion: v1\nkind: Secret\ndata: {k: '!!!'}\n",
		"--- |\n  text\n",
		"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - securityContext: {runAsUser: 0x7fffffffffffffff1}\n",
		"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}]}{\"a\":1}\n---\nb: &b {c: 1}\nd: {<<: *b}\n",
		"apiVersion: v1\n...\n\xef\xbb\xbfkind: X\n---\n\x00\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var objs []*Object
		var errs []InputError
		done := make(chan struct{})
		go func() {
			defer close(done)
			objs, errs = Parse("fuzz.yaml", data)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("Parse took more than 5s on %q", data)
		}
		for _, o := range objs {
			if o.Kind == "" || o.APIVersion == "" {
				t.Fatalf("object without kind: %+v", o)
			}
			o.Locate("spec.containers[0].securityContext")
			for _, e := range o.SchemaErrors {
				if e.Line == 0 {
					t.Fatalf("schema error without a line: %+v", e)
				}
			}
		}
		for _, e := range errs {
			if e.File != "fuzz.yaml" || e.Line == 0 || e.Message == "" {
				t.Fatalf("incomplete error %+v", e)
			}
		}
		// Streaming the same bytes reads the same objects at the same lines.
		streamed, serrs := ParseReader("fuzz.yaml", bytes.NewReader(data), 0)
		if len(streamed) != len(objs) || len(serrs) != len(errs) {
			t.Fatalf("in memory %d objects %d errors, streamed %d objects %d errors", len(objs), len(errs), len(streamed), len(serrs))
		}
		for i := range objs {
			if a, b := objs[i].Locate(""), streamed[i].Locate(""); objs[i].Name != streamed[i].Name || a != b {
				t.Fatalf("object %d: %s at %v in memory, %s at %v streamed", i, objs[i].Name, a, streamed[i].Name, b)
			}
		}
	})
}
