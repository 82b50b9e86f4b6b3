package manifest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	sigsyaml "sigs.k8s.io/yaml"
)

func cm(name string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n"
}

func jsonCM(name string) string {
	return `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `"}}`
}

type objAt struct {
	name string
	line int
}

func namesAndLines(objs []*Object) []objAt {
	var out []objAt
	for _, o := range objs {
		out = append(out, objAt{o.Name, o.Locate("").Line})
	}
	return out
}

// TestStreamsAsKubectlReadsThem: every stream kubectl accepts gives every
// object, each at its own line.
func TestStreamsAsKubectlReadsThem(t *testing.T) {
	list := func(items ...string) string {
		return `{"apiVersion":"v1","kind":"List","items":[` + "\n" + strings.Join(items, ",\n") + "\n]}"
	}
	tests := []struct {
		name string
		give string
		want []objAt
	}{
		{"concatenated JSON", jsonCM("a") + jsonCM("b") + "\n" + jsonCM("c"), []objAt{{"a", 1}, {"b", 1}, {"c", 2}}},
		{"JSON lines", jsonCM("a") + "\n" + jsonCM("b") + "\n\n" + jsonCM("c") + "\n", []objAt{{"a", 1}, {"b", 2}, {"c", 4}}},
		{"JSON List items on their lines", list(jsonCM("a"), jsonCM("b")), []objAt{{"a", 2}, {"b", 3}}},
		{"nested List flattened", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - " +
			strings.ReplaceAll(strings.TrimSuffix(cm("x"), "\n"), "\n", "\n    ") + "\n- " + strings.ReplaceAll(strings.TrimSuffix(cm("y"), "\n"), "\n", "\n  ") + "\n",
			[]objAt{{"x", 7}, {"y", 11}}},
		{"document end markers", cm("a") + "...\n" + cm("b") + "...\n---\n" + cm("c"), []objAt{{"a", 1}, {"b", 6}, {"c", 12}}},
		{"YAML after JSON", jsonCM("a") + "\n---\n" + cm("b"), []objAt{{"a", 1}, {"b", 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, errs := Parse("s.yaml", []byte(tt.give))
			if len(errs) != 0 {
				t.Fatalf("errors: %v", errs)
			}
			got := namesAndLines(objs)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			// Read from a stream, the same.
			objs, errs = ParseReader("s.yaml", strings.NewReader(tt.give), 0)
			if got := namesAndLines(objs); len(errs) != 0 || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("from a reader: got %v, errors %v", got, errs)
			}
		})
	}
}

// TestBigJSONListItemsOneByOne: a List above bigJSONList is split into items
// with their own lines, like a small one.
func TestBigJSONListItemsOneByOne(t *testing.T) {
	var b strings.Builder
	b.WriteString("{\n  \"apiVersion\": \"v1\",\n  \"items\": [\n")
	n := 0
	for b.Len() < bigJSONList+1000 {
		if n > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "    {\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm-%d\"},\"data\":{\"k\":%q}}", n, strings.Repeat("x", 200))
		n++
	}
	b.WriteString("\n  ],\n  \"kind\": \"List\"\n}\n")
	objs, errs := Parse("big.json", []byte(b.String()))
	if len(errs) != 0 || len(objs) != n {
		t.Fatalf("%d objects, %d errors; want %d objects", len(objs), len(errs), n)
	}
	if l := objs[n-1].Locate("data.k").Line; l != 4+n-1 {
		t.Errorf("last item's data.k on line %d, want %d", l, 4+n-1)
	}
}

func TestMergeKeysApplied(t *testing.T) {
	data := `apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - &base
    name: a
    image: nginx
    securityContext:
      privileged: true
  - <<: *base
    name: b
  - <<: [*base]
    image: redis
    name: c
  - name: d
    securityContext: {privileged: false}
    <<: *base
`
	objs, errs := Parse("m.yaml", []byte(data))
	if len(errs) != 0 || len(objs) != 1 {
		t.Fatalf("%d objects, errors %v", len(objs), errs)
	}
	if se := objs[0].SchemaErrors; len(se) != 0 {
		t.Fatalf("schema errors: %v", se)
	}
	pod := objs[0].Typed.(*corev1.Pod)
	if len(pod.Spec.Containers) != 4 {
		t.Fatalf("containers %d", len(pod.Spec.Containers))
	}
	b, c := pod.Spec.Containers[1], pod.Spec.Containers[2]
	if b.Name != "b" || b.Image != "nginx" || b.SecurityContext == nil || !*b.SecurityContext.Privileged {
		t.Errorf("merged container b = %+v", b)
	}
	if c.Name != "c" || c.Image != "redis" {
		t.Errorf("keys after the merge must win: %+v", c)
	}
	// As kubectl reads it: a merge overwrites the keys written before it.
	if d := pod.Spec.Containers[3]; d.Name != "a" || d.SecurityContext == nil || !*d.SecurityContext.Privileged {
		t.Errorf("a merge after the mapping's own keys must win, as in kubectl: %+v", d)
	}
	// The same as kubectl's YAML library reads it.
	var want corev1.Pod
	if err := sigsyaml.Unmarshal([]byte(data), &want); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(want.Spec.Containers, pod.Spec.Containers) {
		t.Errorf("containers differ from sigs.k8s.io/yaml's:\n got %+v\nwant %+v", pod.Spec.Containers, want.Spec.Containers)
	}
	// The merged field points at the anchor's line.
	if l := objs[0].Locate("spec.containers[1].securityContext.privileged").Line; l != 11 {
		t.Errorf("merged privileged at line %d, want 11", l)
	}
}

// TestUndecodableDocumentCostsOnlyItself: a document that is not text YAML
// is an error at its own line; its neighbours are read.
func TestUndecodableDocumentCostsOnlyItself(t *testing.T) {
	tests := []struct {
		name    string
		bad     string
		wantMsg string
	}{
		{"NUL", "apiVersion: v1\nkind: \x00ConfigMap\n", "NUL"},
		{"UTF-16", "\xff\xfea\x00p\x00i\x00\n", "NUL"},
		{"invalid UTF-8", "apiVersion: v1\nkind: \xff\n", "UTF-8"},
		{"control character", "apiVersion: v1\nkind: Config\x01Map\n", "control character"},
		{"BOM in a later document", "\xef\xbb\xbfapiVersion: v1\nkind: ConfigMap\nmetadata: {name: z}\n", "byte order mark"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := cm("a") + "---\n" + tt.bad + "---\n" + cm("b")
			objs, errs := ParseReader("u.yaml", strings.NewReader(data), 0)
			if len(errs) != 1 || !strings.Contains(errs[0].Message, tt.wantMsg) {
				t.Fatalf("errors %v, want one saying %q", errs, tt.wantMsg)
			}
			if errs[0].Line < 6 || errs[0].Line > 7 {
				t.Errorf("error at line %d, want the bad document's (6 or 7)", errs[0].Line)
			}
			if got := fmt.Sprint(namesAndLines(objs)); got != fmt.Sprint([]objAt{{"a", 1}, {"b", 7 + strings.Count(tt.bad, "\n")}}) {
				t.Errorf("neighbours %s", got)
			}
		})
	}
	// A BOM that starts the stream is allowed.
	if objs, errs := Parse("bom.yaml", []byte("\xef\xbb\xbf"+cm("a"))); len(errs) != 0 || len(objs) != 1 {
		t.Errorf("leading BOM: %d objects, errors %v", len(objs), errs)
	}
}

// TestAliasExpansionBounded: a few aliases of a long string cost bytes, not
// nodes; both are bounded.
func TestAliasExpansionBounded(t *testing.T) {
	long := strings.Repeat("x", 64<<10)
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ns: &s " + long + "\ndata:\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "  k%d: *s\n", i)
	}
	_, errs := Parse("alias.yaml", []byte(b.String()))
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "aliases expand") {
		t.Fatalf("errors %v, want the alias byte bound", errs)
	}
	// A handful of aliases is fine.
	ok := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ns: &s " + long + "\ndata: {a: *s, b: *s}\n"
	if _, errs := Parse("alias.yaml", []byte(ok)); len(errs) != 0 {
		t.Errorf("two aliases refused: %v", errs)
	}
}

// TestStreamLargerThanOneDocumentLimit: the limit is per document; the
// stream as a whole may be any size.
func TestStreamLargerThanOneDocumentLimit(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 200; i++ {
		if i > 0 {
			b.WriteString("---\n")
		}
		b.WriteString(cm(fmt.Sprintf("c%d", i)))
	}
	b.WriteString("---\n" + cm(strings.Repeat("n", 2000)))
	objs, errs := ParseReader("big.yaml", strings.NewReader(b.String()), 1024)
	if len(objs) != 200 || len(errs) != 1 || !strings.Contains(errs[0].Message, "larger than 1024 bytes") {
		t.Fatalf("%d objects, errors %v", len(objs), errs)
	}
}

// TestWalkSkipsSpecialFilesButReadsThemWhenNamed: FIFOs met in a walk are a
// notice; named explicitly (process substitution) they are read.
func TestWalkSkipsSpecialFilesButReadsThemWhenNamed(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(cm("a")), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "pipe.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	res := Load([]string{dir}, Options{})
	if len(res.Objects) != 1 || len(res.Errors) != 0 || len(res.Notices) != 1 || !strings.Contains(res.Notices[0].Message, "FIFO") {
		t.Fatalf("walk: %d objects, errors %v, notices %v", len(res.Objects), res.Errors, res.Notices)
	}
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		_, _ = io.WriteString(f, cm("piped"))
		f.Close()
	}()
	res = Load([]string{fifo, fifo}, Options{})
	if len(res.Objects) != 1 || res.Objects[0].Name != "piped" || len(res.Errors) != 0 {
		t.Fatalf("named FIFO: %d objects, errors %v", len(res.Objects), res.Errors)
	}
}

// TestSamePathTwiceReadOnce: overlapping arguments do not double findings.
func TestSamePathTwiceReadOnce(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	if err := os.WriteFile(a, []byte(cm("a")), 0o600); err != nil {
		t.Fatal(err)
	}
	res := Load([]string{a, dir, "./" + a, a}, Options{})
	if len(res.Objects) != 1 || res.Files != 1 {
		t.Errorf("%d objects from %d files, want 1 from 1", len(res.Objects), res.Files)
	}
}
