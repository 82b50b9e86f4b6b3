package audit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var t0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

// at is an event at t0+offset with its own audit ID.
func at(offset time.Duration, fields map[string]any) map[string]any {
	out := map[string]any{"stageTimestamp": t0.Add(offset).Format(time.RFC3339Nano), "auditID": fmt.Sprintf("id-%d", offset)}
	for k, v := range fields {
		out[k] = v
	}
	return out
}

// count runs the events through d and counts the alerts of rule.
func count(t *testing.T, d *Detector, rule string, events ...map[string]any) int {
	t.Helper()
	var lines [][]byte
	for _, e := range events {
		lines = append(lines, ev(e))
	}
	n := 0
	var r Reader
	err := r.Read("t", bytes.NewReader(bytes.Join(lines, []byte("\n"))), func(e Event) error {
		for _, a := range d.Detect(e, nil) {
			if a.Rule == rule {
				n++
			}
		}
		return nil
	}, func(e InputError) { t.Fatal(e) })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func builtinDetector(t *testing.T) *Detector {
	t.Helper()
	rules, err := Builtin().Compile()
	if err != nil {
		t.Fatal(err)
	}
	return NewDetector(rules)
}

// TestStatefulRules: each kind of stateful rule fires on its pattern and
// not on the nearest miss: one fewer event, a window a second too long, the
// steps out of order, a key seen before.
func TestStatefulRules(t *testing.T) {
	denied := func(i int, spacing time.Duration) map[string]any {
		return at(time.Duration(i)*spacing, map[string]any{"responseStatus.code": 403, "annotations": map[string]any{"authorization.k8s.io/decision": "forbid"}})
	}
	deniedRun := func(n int, spacing time.Duration) []map[string]any {
		var out []map[string]any
		for i := range n {
			out = append(out, denied(i, spacing))
		}
		return out
	}
	secretReads := func(distinct int) []map[string]any {
		var out []map[string]any
		for i := range 15 {
			out = append(out, at(time.Duration(i)*time.Second, map[string]any{"objectRef.resource": "secrets", "objectRef.name": fmt.Sprintf("s-%d", i%distinct)}))
		}
		return out
	}
	create := func(off time.Duration) map[string]any {
		return at(off, map[string]any{"verb": "create", "objectRef.name": "box", "responseStatus.code": 201})
	}
	exec := func(off time.Duration) map[string]any {
		return at(off, map[string]any{"verb": "create", "stage": "ResponseStarted", "objectRef.subresource": "exec", "objectRef.name": "box",
			"requestURI": "/api/v1/namespaces/default/pods/box/exec?command=sh", "responseStatus.code": 101})
	}
	anonymous := func(off time.Duration) map[string]any {
		return at(off, map[string]any{"user": map[string]any{"username": "system:anonymous"}, "verb": "list", "objectRef.resource": "namespaces", "requestURI": "/api/v1/namespaces"})
	}
	adminBinding := func(off time.Duration) map[string]any {
		return at(off, map[string]any{"verb": "create", "responseStatus.code": 201, "objectRef": map[string]any{"resource": "clusterrolebindings", "name": "x", "apiGroup": "rbac.authorization.k8s.io"},
			"requestObject": map[string]any{"roleRef": map[string]any{"name": "cluster-admin"}}})
	}
	sa := func(off time.Duration, ip string) map[string]any {
		return at(off, map[string]any{"user.username": "system:serviceaccount:payments:api", "sourceIPs": []any{ip}})
	}
	join := func(parts ...[]map[string]any) []map[string]any {
		var out []map[string]any
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	one := func(e ...map[string]any) []map[string]any { return e }
	for _, tc := range []struct {
		name, rule string
		events     []map[string]any
		want       int
	}{
		{"threshold reached", "Many Denied Requests", deniedRun(10, 6*time.Second), 1},
		{"one fewer", "Many Denied Requests", deniedRun(9, 6*time.Second), 0},
		{"window a second too long", "Many Denied Requests", deniedRun(10, 61*time.Second/9), 0},
		{"twenty give two", "Many Denied Requests", deniedRun(20, time.Second), 2},
		{"an event three hours older does not count", "Many Denied Requests", append(deniedRun(9, time.Second), denied(-3*3600, time.Second)), 0},
		{"fifteen distinct Secrets", "Many Secrets Read", secretReads(15), 1},
		{"fourteen distinct Secrets", "Many Secrets Read", secretReads(14), 0},
		{"create then exec", "Pod Created Then Exec'd Into", one(create(0), exec(4*time.Minute)), 1},
		{"exec then create", "Pod Created Then Exec'd Into", one(exec(0), create(time.Minute)), 0},
		{"exec a second too late", "Pod Created Then Exec'd Into", one(create(0), exec(5*time.Minute+time.Second)), 0},
		{"anonymous then cluster-admin", "Anonymous Access Then Cluster-Admin Binding", one(anonymous(0), adminBinding(9*time.Minute)), 1},
		{"cluster-admin then anonymous", "Anonymous Access Then Cluster-Admin Binding", one(adminBinding(0), anonymous(time.Minute)), 0},
		{"first public use", "ServiceAccount Used From Outside the Cluster", one(sa(0, "203.0.113.9"), sa(time.Second, "203.0.113.9"), sa(2*time.Second, "198.51.100.4")), 2},
		{"private use", "ServiceAccount Used From Outside the Cluster", one(sa(0, "10.0.0.9")), 0},
		{"new address while learning", "User From a New Address", join(one(at(0, map[string]any{"sourceIPs": []any{"10.0.0.1"}})), one(at(time.Hour, map[string]any{"sourceIPs": []any{"10.0.0.2"}}))), 0},
		{"new address after learning", "User From a New Address", join(one(at(0, map[string]any{"sourceIPs": []any{"10.0.0.1"}})), one(at(25*time.Hour, map[string]any{"sourceIPs": []any{"10.0.0.2"}})), one(at(26*time.Hour, map[string]any{"sourceIPs": []any{"10.0.0.1"}}))), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := count(t, builtinDetector(t), tc.rule, tc.events...); got != tc.want {
				t.Errorf("%d alerts of %s, want %d", got, tc.rule, tc.want)
			}
		})
	}
}

// TestStateSurvivesRestart: what a detector learned (a key seen, a window
// under way) is written to the checkpoint file and read back by the next
// one: a key seen before the restart does not alert again, a window goes
// on.
func TestStateSurvivesRestart(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sa := at(0, map[string]any{"user.username": "system:serviceaccount:payments:api", "sourceIPs": []any{"203.0.113.9"}})
	first := builtinDetector(t)
	if n := count(t, first, "ServiceAccount Used From Outside the Cluster", sa); n != 1 {
		t.Fatalf("%d alerts before the restart", n)
	}
	var denied []map[string]any
	for i := range 9 {
		denied = append(denied, at(time.Duration(i)*time.Second, map[string]any{"responseStatus.code": 403}))
	}
	count(t, first, "Many Denied Requests", denied...)
	if err := first.Checkpoint(db); err != nil {
		t.Fatal(err)
	}
	second := builtinDetector(t)
	if err := second.LoadState(db); err != nil {
		t.Fatal(err)
	}
	replay := at(time.Hour, map[string]any{"user.username": "system:serviceaccount:payments:api", "sourceIPs": []any{"203.0.113.9"}})
	if n := count(t, second, "ServiceAccount Used From Outside the Cluster", replay); n != 0 {
		t.Error("a key seen before the restart alerted again")
	}
	tenth := at(10*time.Second, map[string]any{"responseStatus.code": 403, "auditID": "tenth"})
	if n := count(t, second, "Many Denied Requests", tenth); n != 1 {
		t.Error("the window under way was lost in the restart")
	}
	// Without the checkpoint, the replay alerts: the test can tell.
	if n := count(t, builtinDetector(t), "ServiceAccount Used From Outside the Cluster", replay); n != 1 {
		t.Error("a fresh detector did not alert")
	}
}

// TestIntel: an address or a network on the lists alerts; one that is not
// does not; a bad line is said with its file and line.
func TestIntel(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "bad-ips.txt")
	if err := os.WriteFile(list, []byte("# feed\n203.0.113.9\n198.51.100.0/24  # a whole network\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := ReadIntel(list)
	if err != nil {
		t.Fatal(err)
	}
	SetIntel(in)
	defer SetIntel(nil)
	d := builtinDetector(t)
	from := func(ip string) map[string]any { return at(0, map[string]any{"sourceIPs": []any{ip}, "auditID": ip}) }
	if n := count(t, d, "Request From a Listed Address", from("203.0.113.9"), from("198.51.100.77"), from("192.0.2.1")); n != 2 {
		t.Errorf("%d alerts, want 2 (a listed address, one in a listed network)", n)
	}
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("203.0.113.9\nnot-an-ip\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadIntel(bad); err == nil || err.Error() != bad+`:2: "not-an-ip" is not an address or a CIDR` {
		t.Errorf("error %v", err)
	}
}

// TestStateStaysBounded: keys of windows that can no longer alert are
// swept, so a stream of made-up keys does not grow the state.
func TestStateStaysBounded(t *testing.T) {
	d := builtinDetector(t)
	var events []map[string]any
	for i := range 3 * sweepEvery {
		events = append(events, at(time.Duration(i)*time.Second, map[string]any{"verb": "create", "objectRef.name": fmt.Sprintf("pod-%d", i),
			"responseStatus.code": 201, "auditID": fmt.Sprintf("c-%d", i)}))
	}
	count(t, d, "Pod Created Then Exec'd Into", events...)
	if n := len(d.state.Times["Pod Created Then Exec'd Into"]); n > sweepEvery+300 {
		t.Errorf("%d pods remembered after %d created over %v; want those of the last 5 minutes and one sweep's worth", n, len(events), time.Duration(len(events))*time.Second)
	}
}
