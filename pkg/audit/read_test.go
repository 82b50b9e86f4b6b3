package audit

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"
)

func event(id, verb, user string) string {
	return fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":%q,"stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":%q,"user":{"username":%q,"groups":["system:authenticated"]},"sourceIPs":["10.0.0.1"],"objectRef":{"resource":"pods","namespace":"default","apiVersion":"v1"},"responseStatus":{"code":200},"stageTimestamp":"2026-11-30T10:00:00.000000Z"}`, id, verb, user)
}

func readAll(t *testing.T, in []byte, max int) (ids []string, errs []InputError) {
	t.Helper()
	r := Reader{MaxEvent: max}
	err := r.Read("log", bytes.NewReader(in), func(e Event) error {
		ids = append(ids, e.AuditID())
		return nil
	}, func(e InputError) { errs = append(errs, e) })
	if err != nil {
		t.Fatal(err)
	}
	return ids, errs
}

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestRead: the shapes logs come in, and what bad input costs (the value
// itself, never its neighbours), with the line it is on.
func TestRead(t *testing.T) {
	a, b, c := event("a", "get", "alice"), event("b", "list", "bob"), event("c", "create", "carol")
	list := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + a + "," + b + `]}`
	pretty := strings.ReplaceAll(strings.ReplaceAll(list, ",", ",\n  "), "[", "[\n  ") // indented, as encoders write it
	prettyA := strings.ReplaceAll(a, ",", ",\n  ")
	for _, tc := range []struct {
		name     string
		in       []byte
		max      int
		ids      string
		errLines []int
	}{
		{"json lines", []byte(a + "\n" + b + "\n" + c + "\n"), 0, "a,b,c", nil},
		{"no final newline, blank lines, CRLF", []byte("\n" + a + "\r\n\r\n" + b + "\r\n" + c), 0, "a,b,c", nil},
		{"event list on a line", []byte(list + "\n" + c + "\n"), 0, "a,b,c", nil},
		{"pretty-printed event list", []byte(pretty + "\n"), 0, "a,b", nil},
		{"two events on a line", []byte(a + b + "\n" + c + "\n"), 0, "a,b,c", nil},
		{"gzip", gz(t, a+"\n"+b+"\n"), 0, "a,b", nil},
		{"a truncated line costs itself", []byte(a + "\n" + b[:len(b)/2] + "\n" + c + "\n"), 0, "a,c", []int{2}},
		{"truncated at the end", []byte(a + "\n" + b[:40]), 0, "a", []int{2}},
		{"the first line truncated", []byte(b[:len(b)/2] + "\n" + a + "\n" + c + "\n"), 0, "a,c", []int{1}},
		{"garbage first, a truncated line later", []byte("garbage\n" + a + "\n" + b[:30] + "\n" + c + "\n"), 0, "a,c", []int{1, 3}},
		{"pretty-printed with one cut short", []byte(prettyA + "\n" + strings.ReplaceAll(b[:len(b)/2], ",", ",\n  ") + "\n" + strings.ReplaceAll(c, ",", ",\n  ") + "\n"), 0, "a,c", []int{strings.Count(prettyA, "\n") + 2}},
		{"not JSON", []byte(a + "\nnot json at all }\n" + c + "\n"), 0, "a,c", []int{2}},
		{"not an event", []byte(a + "\n{\"kind\":0}\n" + `{"kind":"Event"}` + "\n" + c + "\n"), 0, "a,c", []int{2, 3}},
		{"an oversized event", []byte(a + "\n" + event("b", "get", strings.Repeat("x", 100)) + "\n" + c + "\n"), len(c) + 10, "a,c", []int{2}},
		{"event list items without a kind (the webhook backend's)", []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + strings.Replace(a, `"kind":"Event",`, "", 1) + `]}` + "\n"), 0, "a", nil},
		{"an event list item that is not an event", []byte(`{"kind":"EventList","items":[` + a + `,{"kind":"Pod"}]}` + "\n"), 0, "a", []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids, errs := readAll(t, tc.in, tc.max)
			if got := strings.Join(ids, ","); got != tc.ids {
				t.Errorf("events %q, want %q (errors %v)", got, tc.ids, errs)
			}
			var lines []int
			for _, e := range errs {
				lines = append(lines, e.Line)
			}
			if fmt.Sprint(lines) != fmt.Sprint(tc.errLines) {
				t.Errorf("errors on lines %v, want %v: %v", lines, tc.errLines, errs)
			}
		})
	}
}

// TestReadErrorsShowNoValue: what cannot be parsed is described, never
// quoted: a Secret's data in a RequestResponse event must not reach a log.
func TestReadErrorsShowNoValue(t *testing.T) {
	const secret = "c3VwZXItc2VjcmV0LXBhc3N3b3Jk"
	for _, in := range []string{
		`{"kind":"Event","auditID":"x","stage":"ResponseComplete","requestObject":{"data":{"password":"` + secret + `"}}}{"x":` + secret + "\n",
		`{"kind":"Event","requestObject":{"data":{"password":` + secret + `}}}` + "\n",
		`{"kind":"Event","requestObject":{"data":{"password":"` + secret + `" "x"}}}` + "\n",
	} {
		_, errs := readAll(t, []byte(in), 0)
		if len(errs) == 0 {
			t.Fatalf("no error for %q", in)
		}
		for _, e := range errs {
			if strings.Contains(e.Error(), secret) || strings.Contains(e.Error(), "c3VwZXI") {
				t.Errorf("the error shows the value: %v", e)
			}
		}
	}
}

// FuzzRead: any input is read without a panic, each value alone, and
// memory stays within the bound on one event.
func FuzzRead(f *testing.F) {
	f.Add([]byte(event("a", "get", "alice") + "\n"))
	f.Add([]byte(`{"kind":"EventList","items":[` + event("a", "get", "alice") + `]}`))
	f.Add([]byte("{\"kind\":\"Event\",\n\"x\":[[[[\n"))
	f.Add([]byte(`]]]}}}{"\"\\"`))
	f.Add(gz(&testing.T{}, event("a", "get", "alice")))
	rules, err := Builtin().Compile()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d := NewDetector(rules)
		r := Reader{MaxEvent: 1 << 12}
		var alerts []Alert
		_ = r.Read("fuzz", bytes.NewReader(in), func(e Event) error {
			alerts = d.Detect(e, alerts[:0])
			return nil
		}, func(InputError) {})
	})
}
