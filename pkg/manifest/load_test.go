package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestParsePositionsAndDocuments(t *testing.T) {
	data := `# leading comment
apiVersion: v1
kind: ConfigMap
metadata:
  name: first
  namespace: ns
data:
  key: value
---
---
apiVersion: v1
kind: Pod
metadata:
  name: second
spec:
  containers:
  - name: app
    image: nginx:1.27
    securityContext:
      privileged: true
--- # a comment-only document
...
`
	objs, errs := Parse("f.yaml", []byte(data))
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(objs) != 2 {
		t.Fatalf("got %d objects, want 2", len(objs))
	}
	if got := objs[0].String(); got != "ConfigMap/ns/first" {
		t.Errorf("first object %s", got)
	}
	if objs[1].Doc != 1 {
		t.Errorf("second object doc index %d, want 1 (empty documents are not counted)", objs[1].Doc)
	}
	tests := []struct {
		obj        int
		path       string
		line, col  int
		wantInFile string
	}{
		{0, "", 2, 1, "apiVersion"},
		{0, "data.key", 8, 3, "key"},
		{1, "spec.containers[0].securityContext.privileged", 20, 7, "privileged"},
		{1, "spec.containers[0]", 17, 5, "name"},
		{1, "spec.containers[0].securityContext.runAsNonRoot", 19, 5, "securityContext"}, // absent: nearest ancestor
		{1, "spec.volumes[3]", 15, 1, "spec"},
		{1, `metadata.annotations["a.b/c"]`, 13, 1, "metadata"},
	}
	lines := strings.Split(data, "\n")
	for _, tt := range tests {
		loc := objs[tt.obj].Locate(tt.path)
		if loc.Line != tt.line || loc.Column != tt.col {
			t.Errorf("Locate(%q) = %d:%d, want %d:%d", tt.path, loc.Line, loc.Column, tt.line, tt.col)
			continue
		}
		if got := lines[loc.Line-1][loc.Column-1:]; !strings.HasPrefix(got, tt.wantInFile) {
			t.Errorf("Locate(%q) points at %q, want %q", tt.path, got, tt.wantInFile)
		}
	}
}

func TestParseListsJSONAndUnknownKinds(t *testing.T) {
	tests := []struct {
		name      string
		give      string
		wantObjs  []string
		wantTyped []bool
		wantErrs  int
	}{
		{
			name:      "kind List",
			give:      "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: b}\n",
			wantObjs:  []string{"Service/a", "ServiceAccount/b"},
			wantTyped: []bool{true, true},
		},
		{
			name:      "PodList with a bad item",
			give:      "apiVersion: v1\nkind: PodList\nitems:\n- kind: Pod\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n",
			wantObjs:  []string{"Pod/b"},
			wantTyped: []bool{true},
			wantErrs:  1,
		},
		{
			name:      "JSON with tabs",
			give:      "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Namespace\",\n\t\"metadata\": {\"name\": \"prod\"}\n}\n",
			wantObjs:  []string{"Namespace/prod"},
			wantTyped: []bool{true},
		},
		{
			name:      "custom resource",
			give:      "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {anything: [1, 2]}\n",
			wantObjs:  []string{"Widget/w"},
			wantTyped: []bool{false},
		},
		{
			name:      "removed API version is kept, untyped",
			give:      "apiVersion: apps/v1beta9\nkind: Deployment\nmetadata: {name: old}\n",
			wantObjs:  []string{"Deployment/old"},
			wantTyped: []bool{false},
		},
		{
			name:     "scalar document",
			give:     "just a string\n",
			wantErrs: 1,
		},
		{
			name:     "no kind",
			give:     "apiVersion: v1\nmetadata: {name: x}\n",
			wantErrs: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, errs := Parse("in", []byte(tt.give))
			if len(errs) != tt.wantErrs {
				t.Errorf("got %d errors %v, want %d", len(errs), errs, tt.wantErrs)
			}
			if len(objs) != len(tt.wantObjs) {
				t.Fatalf("got %d objects, want %d", len(objs), len(tt.wantObjs))
			}
			for i, o := range objs {
				if o.String() != tt.wantObjs[i] {
					t.Errorf("object %d is %s, want %s", i, o, tt.wantObjs[i])
				}
				if (o.Typed != nil) != tt.wantTyped[i] {
					t.Errorf("object %d typed=%v, want %v", i, o.Typed != nil, tt.wantTyped[i])
				}
			}
		})
	}
}

func TestStrictDecoding(t *testing.T) {
	data := `apiVersion: v1
kind: Pod
metadata:
  name: p
  labels:
    app: web
    app: dup
spec:
  hostNetwork: yes
  networkPolicy: {}
  containers:
  - name: app
    image: nginx
    env:
    - name: PORT
      value: 8080
    - name: DEBUG
      value: "true"
    ports:
    - containerPort: "80"
    resources:
      limits: {cpu: 0.5, memory: lots}
    securityContext:
      runAsUser: 0x10
      privilegd: true
`
	objs, errs := Parse("p.yaml", []byte(data))
	if len(errs) != 0 || len(objs) != 1 {
		t.Fatalf("objs %d errs %v", len(objs), errs)
	}
	o := objs[0]
	want := map[string]int{
		`metadata.labels.app`:                          7,
		`spec.networkPolicy`:                           10,
		`spec.containers[0].env[0].value`:              16,
		`spec.containers[0].ports[0].containerPort`:    20,
		`spec.containers[0].resources.limits.memory`:   22,
		`spec.containers[0].securityContext.privilegd`: 25,
	}
	got := map[string]int{}
	for _, e := range o.SchemaErrors {
		got[e.Path] = e.Line
		if strings.Contains(e.Message, "8080") || strings.Contains(e.Message, "lots") {
			t.Errorf("schema message repeats a value: %s", e.Message)
		}
	}
	for p, line := range want {
		if got[p] != line {
			t.Errorf("schema error at %s: line %d, want %d (all: %v)", p, got[p], line, o.SchemaErrors)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d schema errors, want %d: %v", len(got), len(want), o.SchemaErrors)
	}
	pod := o.Typed.(*corev1.Pod)
	if !pod.Spec.HostNetwork {
		t.Error("hostNetwork: yes should decode as true (YAML 1.1, as kubectl reads it)")
	}
	if u := pod.Spec.Containers[0].SecurityContext.RunAsUser; u == nil || *u != 16 {
		t.Errorf("runAsUser 0x10 = %v, want 16", u)
	}
	if q := pod.Spec.Containers[0].Resources.Limits.Cpu(); q.MilliValue() != 500 {
		t.Errorf("cpu 0.5 = %v", q)
	}
}

func TestScalarResolution(t *testing.T) {
	tests := []struct {
		give string
		want string // JSON
	}{
		{"yes", "true"}, {"Off", "false"}, {"~", "null"}, {"", "null"},
		{"0644", "420"}, {"0o17", "15"}, {"0x1F", "31"}, {"1_000", "1000"}, {"-5", "-5"},
		{"1.5", "1.5"}, {"1e3", "1000"}, {".inf", "null"}, {"1.2.3", `"1.2.3"`},
		{"latest", `"latest"`}, {"'yes'", `"yes"`}, {`"0644"`, `"0644"`}, {"!!str 12", `"12"`},
		{"99999999999999999999999", `"99999999999999999999999"`}, {"0x", `"0x"`}, {"+", `"+"`},
	}
	for _, tt := range tests {
		objs, _ := Parse("s", []byte("apiVersion: example.com/v1\nkind: X\ncontainers: []\nv: "+tt.give+"\n")) // containers: the node is kept
		if len(objs) != 1 {
			t.Fatalf("%q: no object", tt.give)
		}
		var b strings.Builder
		writeJSON(&b, mapGet(objs[0].node, "v"))
		if b.String() != tt.want {
			t.Errorf("%q resolves to %s, want %s", tt.give, b.String(), tt.want)
		}
	}
}

func TestBadInput(t *testing.T) {
	deep := strings.Repeat("[", 1000) + strings.Repeat("]", 1000)
	var bomb strings.Builder
	bomb.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 10; i++ {
		prev := "*a" + string(rune('0'+i-1))
		bomb.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [" + strings.Repeat(prev+", ", 8) + prev + "]\n")
	}
	tests := []struct {
		name     string
		give     string
		wantLine int
		wantMsg  string
	}{
		{"broken YAML", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n", 4, "invalid YAML"},
		{"stray list item", "apiVersion: v1\nkind: Pod\n- item\n", 3, "did not find expected key"},
		{"tab indentation", "apiVersion: v1\nkind: Pod\nmetadata:\n\tname: x\n", 4, "invalid YAML"},
		{"unknown anchor", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: *nope\n", 4, "unknown anchor"},
		{"binary", "apiVersion: v1\n\x00\x01\x02", 2, "binary file"},
		{"invalid UTF-8", "apiVersion: v1\nkind: \xff\xfe\n", 2, "UTF-8"},
		{"empty", "", 1, "no Kubernetes object"},
		{"only comments", "# nothing\n---\n# here\n", 1, "no Kubernetes object"},
		{"deeply nested", "apiVersion: v1\nkind: ConfigMap\nx: " + deep + "\n", 3, "nests deeper"},
		{"billion laughs", bomb.String(), 0, "aliases"},
		{"bad document in the middle", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: : :\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n", 5, "invalid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, errs := Parse("bad.yaml", []byte(tt.give))
			if len(errs) != 1 {
				t.Fatalf("got %d errors %v, want 1", len(errs), errs)
			}
			e := errs[0]
			if e.File != "bad.yaml" || !strings.Contains(e.Message, tt.wantMsg) {
				t.Errorf("error %q, want file bad.yaml and %q", e.Error(), tt.wantMsg)
			}
			if tt.wantLine > 0 && e.Line != tt.wantLine {
				t.Errorf("error on line %d, want %d: %s", e.Line, tt.wantLine, e.Error())
			}
			if e.Line == 0 {
				t.Errorf("error without a line: %s", e.Error())
			}
			if tt.name == "bad document in the middle" && len(objs) != 2 {
				t.Errorf("the valid documents around a broken one were lost: %d objects", len(objs))
			}
		})
	}
}

func TestLoadWalksFoldersAndStdin(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cm := func(name string) string { return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\n" }
	write("a.yaml", cm("a"))
	write("sub/b.yml", cm("b"))
	write("sub/c.json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`)
	write("sub/readme.md", "not scanned")
	write(".hidden/d.yaml", cm("d"))
	res := Load([]string{dir, "-", filepath.Join(dir, "missing.yaml")}, Options{Stdin: strings.NewReader(cm("stdin"))})
	var names []string
	for _, o := range res.Objects {
		names = append(names, o.Name)
	}
	if got := strings.Join(names, ","); got != "a,b,c,stdin" {
		t.Errorf("objects %s, want a,b,c,stdin", got)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Message, "cannot read") {
		t.Errorf("errors %v, want one for the missing file", res.Errors)
	}
	if res.Files != 4 {
		t.Errorf("files %d, want 4", res.Files)
	}
	small := Load([]string{filepath.Join(dir, "a.yaml")}, Options{MaxDocumentSize: 10})
	if len(small.Errors) != 1 || !strings.Contains(small.Errors[0].Message, "larger than") {
		t.Errorf("size limit: %v", small.Errors)
	}
}

func TestParsePath(t *testing.T) {
	got := ParsePath(`spec.containers[2].env["A.B"].x`)
	want := []Segment{{"spec", -1}, {"containers", -1}, {"", 2}, {"env", -1}, {"A.B", -1}, {"x", -1}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("segment %d = %v, want %v", i, got[i], want[i])
		}
	}
	if p := JoinKey(JoinKey("metadata", "annotations"), "rampart.dev/ignore"); p != `metadata.annotations["rampart.dev/ignore"]` {
		t.Errorf("JoinKey = %s", p)
	}
}
