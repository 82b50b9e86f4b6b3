package audit

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

// ev builds an audit event: a completed, allowed request by alice from a
// private address, changed by the fields given (dotted paths; nil deletes).
func ev(fields map[string]any) []byte {
	e := map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": "id-1", "stage": "ResponseComplete",
		"verb": "get", "requestURI": "/api/v1/namespaces/default/pods/web",
		"user":      map[string]any{"username": "alice@example.com", "groups": []any{"system:authenticated"}},
		"sourceIPs": []any{"10.1.2.3"}, "userAgent": "kubectl/v1.37.0",
		"objectRef":      map[string]any{"resource": "pods", "namespace": "default", "name": "web", "apiVersion": "v1"},
		"responseStatus": map[string]any{"code": 200},
		"annotations":    map[string]any{"authorization.k8s.io/decision": "allow"},
		"stageTimestamp": "2026-11-30T10:00:00.000000Z",
	}
	paths := make([]string, 0, len(fields))
	for p := range fields {
		paths = append(paths, p)
	}
	sort.Strings(paths) // a whole object before a field of it
	for _, path := range paths {
		v := fields[path]
		keys := strings.Split(path, ".")
		m := e
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		if v == nil {
			delete(m, keys[len(keys)-1])
		} else {
			m[keys[len(keys)-1]] = v
		}
	}
	b, _ := json.Marshal(e)
	return b
}

func alertsOf(t *testing.T, rules []*Rule, line []byte) map[string]bool {
	t.Helper()
	d := NewDetector(rules)
	got := map[string]bool{}
	var r Reader
	err := r.Read("t", bytes.NewReader(line), func(e Event) error {
		for _, a := range d.Detect(e, nil) {
			got[a.Rule] = true
		}
		return nil
	}, func(e InputError) { t.Fatal(e) })
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestRampartRules: each detection beyond Falco's fires on its event and
// not on the nearest innocent one.
func TestRampartRules(t *testing.T) {
	rules, err := Builtin().Compile()
	if err != nil {
		t.Fatal(err)
	}
	exec := func(command string) map[string]any {
		return map[string]any{"verb": "create", "stage": "ResponseStarted", "objectRef.subresource": "exec", "responseStatus.code": 101,
			"requestURI": "/api/v1/namespaces/default/pods/web/exec?" + command + "&container=app&stdin=true&stdout=true"}
	}
	csr := map[string]any{"verb": "create", "objectRef": map[string]any{"resource": "certificatesigningrequests", "name": "alice-csr", "apiGroup": "certificates.k8s.io"},
		"responseStatus.code": 201, "requestObject": map[string]any{"spec": map[string]any{"signerName": "kubernetes.io/kube-apiserver-client"}}}
	with := func(base map[string]any, more map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range more {
			out[k] = v
		}
		return out
	}
	for _, tc := range []struct {
		rule     string
		fires    map[string]any
		innocent map[string]any
	}{
		{"Data Copied Out of a Pod", exec("command=tar&command=cf&command=-&command=%2Fdata"), exec("command=ls&command=%2Fdata")},
		{"ServiceAccount Token Read Through Exec", exec("command=cat&command=%2Fvar%2Frun%2Fsecrets%2Fkubernetes.io%2Fserviceaccount%2Ftoken"), exec("command=cat&command=%2Fetc%2Fhostname")},
		{"Client Certificate Requested", csr, with(csr, map[string]any{"user": map[string]any{"username": "system:node:node-1", "groups": []any{"system:nodes"}}})},
		{"Certificate Signing Request Approved",
			with(csr, map[string]any{"verb": "update", "objectRef.subresource": "approval", "responseStatus.code": 200}),
			with(csr, map[string]any{"verb": "update", "objectRef.subresource": "approval", "responseStatus.code": 200, "user.username": "system:serviceaccount:kube-system:certificate-controller"})},
		{"Secrets Listed Across All Namespaces",
			map[string]any{"verb": "list", "objectRef": map[string]any{"resource": "secrets", "apiVersion": "v1"}, "requestURI": "/api/v1/secrets"},
			map[string]any{"verb": "list", "objectRef": map[string]any{"resource": "secrets", "namespace": "default", "apiVersion": "v1"}}},
		{"System RoleBinding Modified/Deleted",
			map[string]any{"verb": "delete", "objectRef": map[string]any{"resource": "clusterrolebindings", "name": "system:public-info-viewer", "apiGroup": "rbac.authorization.k8s.io"}},
			map[string]any{"verb": "delete", "objectRef": map[string]any{"resource": "clusterrolebindings", "name": "team-viewer", "apiGroup": "rbac.authorization.k8s.io"}}},
		{"Long-Lived ServiceAccount Token Created",
			map[string]any{"verb": "create", "objectRef.resource": "secrets", "responseStatus.code": 201, "requestObject": map[string]any{"type": "kubernetes.io/service-account-token"}},
			map[string]any{"verb": "create", "objectRef.resource": "secrets", "responseStatus.code": 201, "requestObject": map[string]any{"type": "Opaque"}}},
		{"System Identity Used From a Public Address",
			map[string]any{"user.username": "system:node:node-1", "sourceIPs": []any{"203.0.113.7"}},
			map[string]any{"user.username": "system:node:node-1", "sourceIPs": []any{"100.64.3.4"}}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			if got := alertsOf(t, rules, ev(tc.fires)); !got[tc.rule] {
				t.Errorf("did not fire; alerts %v", got)
			}
			if got := alertsOf(t, rules, ev(tc.innocent)); got[tc.rule] {
				t.Errorf("fired on the innocent event")
			}
		})
	}
}

// TestOneAlertPerRequest: the stages of one request (ResponseStarted then
// ResponseComplete of an exec) give one alert, not two.
func TestOneAlertPerRequest(t *testing.T) {
	rules, err := Builtin().Compile()
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]any{"verb": "create", "objectRef.subresource": "exec", "requestURI": "/api/v1/namespaces/default/pods/web/exec?command=sh", "responseStatus.code": 101}
	started := ev(with2(fields, "stage", "ResponseStarted"))
	complete := ev(with2(fields, "stage", "ResponseComplete"))
	other := ev(with2(with2(fields, "stage", "ResponseComplete"), "auditID", "id-2"))
	d := NewDetector(rules)
	n := 0
	var r Reader
	log := bytes.Join([][]byte{started, complete, other}, []byte("\n"))
	_ = r.Read("t", bytes.NewReader(log), func(e Event) error {
		for _, a := range d.Detect(e, nil) {
			if a.Rule == "Attach/Exec Pod" {
				n++
			}
		}
		return nil
	}, func(e InputError) { t.Fatal(e) })
	if n != 2 {
		t.Errorf("%d Attach/Exec Pod alerts for two requests (one in two stages), want 2", n)
	}
}

func with2(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{k: v}
	for kk, vv := range m {
		if kk != k {
			out[kk] = vv
		}
	}
	return out
}
