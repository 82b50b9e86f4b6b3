package audit

import (
	"strings"
	"testing"
)

// TestOverrides: a rules file changes the built-in set as Falco's rule
// files change each other.
func TestOverrides(t *testing.T) {
	execInSandbox := ev(map[string]any{"verb": "create", "stage": "ResponseStarted", "objectRef.subresource": "exec",
		"objectRef.namespace": "sandbox", "requestURI": "/api/v1/namespaces/sandbox/pods/web/exec?command=sh", "responseStatus.code": 101})
	someUser := ev(map[string]any{"user.username": "ci-deployer"})
	for _, tc := range []struct {
		name, file string
		event      []byte
		rule       string
		fires      bool
	}{
		{"built in", "[]", someUser, "Disallowed K8s User", true},
		{"list append", "- list: allowed_k8s_users\n  items: [ci-deployer]\n  append: true\n", someUser, "Disallowed K8s User", false},
		{"list override append", "- list: allowed_k8s_users\n  items: [ci-deployer]\n  override: {items: append}\n", someUser, "Disallowed K8s User", false},
		{"list replaced", "- list: allowed_k8s_users\n  items: [nobody]\n", ev(map[string]any{"user.username": "minikube"}), "Disallowed K8s User", true},
		{"rule disabled", "- rule: Disallowed K8s User\n  enabled: false\n", someUser, "Disallowed K8s User", false},
		{"condition appended", "- rule: Attach/Exec Pod\n  condition: '&& !(target_namespace in [\"sandbox\"])'\n  override: {condition: append}\n", execInSandbox, "Attach/Exec Pod", false},
		{"macro redefined", "- macro: user_known_exec_pod_activities\n  condition: target_namespace == \"sandbox\"\n", execInSandbox, "Attach/Exec Pod", false},
		{"new rule", "- rule: Sandbox Exec\n  desc: d\n  condition: exec_started && target_namespace == \"sandbox\"\n  output: o\n  severity: high\n", execInSandbox, "Sandbox Exec", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := Builtin()
			if err := rs.Add("mine.yaml", []byte(tc.file)); err != nil {
				t.Fatal(err)
			}
			rules, err := rs.Compile()
			if err != nil {
				t.Fatal(err)
			}
			if got := alertsOf(t, rules, tc.event)[tc.rule]; got != tc.fires {
				t.Errorf("%s fired: %v, want %v", tc.rule, got, tc.fires)
			}
		})
	}
}

// TestBadRules: what is wrong in a rules file is said with the file, the
// item and the rule.
func TestBadRules(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"append to nothing", "- list: no_such_list\n  items: [a]\n  append: true\n", "mine.yaml: item 1: list no_such_list: append to a list that is not defined"},
		{"change nothing", "- rule: No Such Rule\n  enabled: false\n", "rule No Such Rule: changes a rule that is not defined"},
		{"no condition", "- rule: Empty\n  desc: d\n", "rule Empty has no condition"},
		{"not YAML", "- rule: [\n", "mine.yaml:"},
		{"unknown key", "- rule: R\n  condition: \"true\"\n  priorty: WARNING\n", "priorty"},
		{"bad CEL", "- rule: Broken\n  desc: d\n  condition: event.verb ==\n  output: o\n", `mine.yaml: rule "Broken"`},
		{"macro cycle", "- macro: a\n  condition: b\n- macro: b\n  condition: a\n- rule: Loop\n  desc: d\n  condition: a\n  output: o\n", "nested more than 32 deep"},
		{"bad priority", "- rule: P\n  desc: d\n  condition: \"true\"\n  output: o\n  priority: LOUD\n", "LOUD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := Builtin()
			err := rs.Add("mine.yaml", []byte(tc.file))
			if err == nil {
				_, err = rs.Compile()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestExpandLeavesStringsAlone: macro names inside string literals of any
// kind are text, not macros.
func TestExpandLeavesStringsAlone(t *testing.T) {
	rs := Builtin()
	for _, in := range []string{`"pod"`, `'pod'`, `'''it's a pod'''`, `"""a "pod" here"""`, `r"\pod"`, `"a \" pod"`} {
		got, err := rs.expand(in+` == "" || pod`, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got, in+` == "" || (`) {
			t.Errorf("%s expanded to %s", in, got)
		}
	}
}
