package cis

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-k8s/rampart/pkg/finding"
)

// CheckID is a control's check ID in findings: "cis-1.2.1".
func CheckID(controlID string) string { return "cis-" + controlID }

// CategoryCIS is the category of benchmark findings.
const CategoryCIS finding.Category = "cis"

// findings turns a failed or manual result of sections 1 to 4 into
// findings, one per evidence that is not OK (one for the control when there
// is none), with the remediation and, where a file can be edited, the fix.
func (b *Benchmark) findings(c *Control, r *Result) {
	if r.Status != Fail && r.Status != Warn {
		return
	}
	sev := c.Severity
	if r.Status == Warn {
		sev = finding.Info
	}
	base := finding.Finding{CheckID: CheckID(c.ID), Category: CategoryCIS, Severity: sev, Title: c.Title}
	if r.Status == Warn && len(r.Evidence) == 0 {
		f := base
		f.Object = finding.ObjectRef{Kind: "Cluster", Name: "cluster"}
		f.Message = "check by hand: " + r.Reason
		f.Remediation = r.Reason
		r.Findings = append(r.Findings, f)
		return
	}
	evidence := r.Evidence
	if c.Test != nil && c.Test.Any && len(evidence) == len(c.Test.Items) {
		// Any one item would pass the control: one finding, on the item
		// that asks for a value (not the "not set" alternative).
		pick := -1
		for i, it := range c.Test.Items {
			if !evidence[i].OK && (pick < 0 || c.Test.Items[pick].Op == "unset" && it.Op != "unset") {
				pick = i
			}
		}
		if pick >= 0 {
			evidence = evidence[pick : pick+1]
		}
	}
	for _, ev := range evidence {
		if ev.OK {
			continue
		}
		f := base
		f.Object = finding.ObjectRef{Kind: "Node", Name: ev.Node}
		if ev.Object != nil {
			f.Object = *ev.Object
		}
		f.Field = ev.Key
		if ev.Field != "" {
			f.Field = ev.Field
		}
		if c.File != nil {
			f.Field = ev.Source
		}
		f.Location = ev.Location
		where := ev.Source
		if where == "" {
			where = ev.Node
		}
		f.Message = fmt.Sprintf("%s is %s, want %s", ev.Key, ev.Found, ev.Expected)
		if f.Location == nil || f.Location.File == "" {
			f.Message = where + ": " + f.Message
		}
		f.Remediation = b.remediation(c, ev)
		if fx := b.fixFor(c, ev, r); fx != nil && c.Automated {
			f.Fixes = []finding.Fix{*fx}
		}
		r.Findings = append(r.Findings, f)
	}
}

// remediation says what to change, where.
func (b *Benchmark) remediation(c *Control, ev Evidence) string {
	if c.File != nil {
		p := ev.Source
		if c.File.Mode != "" {
			return fmt.Sprintf("Run chmod %s %s on the node (or remove the extra permission bits).", c.File.Mode, p)
		}
		return fmt.Sprintf("Run chown %s %s on the node.", c.File.Owner, p)
	}
	if c.Test == nil {
		return c.Manual
	}
	comp := b.Components[c.Test.Component]
	where := ev.Source
	if where == "" && comp != nil {
		where = "the " + comp.Binary + " configuration"
	}
	var wants []string
	for _, it := range c.Test.Items {
		if it.Special != "" {
			return "Write an EncryptionConfiguration whose first provider for secrets is one of " + it.Value + ", pass it with --encryption-provider-config, and rewrite existing Secrets (kubectl get secrets -A -o json | kubectl replace -f -)."
		}
		key := it.Flag
		if it.Key != "" {
			key = it.Flag + " " + it.Key
		}
		if it.Config != "" {
			key += " (configuration key " + it.Config + ")"
		}
		wants = append(wants, key+" "+expected(it))
	}
	join := " and "
	if c.Test.Any {
		join = ", or "
	}
	msg := fmt.Sprintf("In %s, make %s.", where, strings.Join(wants, join))
	if c.Test.Component == "kubelet" {
		msg += " Then restart the kubelet (systemctl daemon-reload && systemctl restart kubelet)."
	} else if ev.Object != nil && ev.Object.Kind == "Pod" {
		msg += " The kubelet restarts the static pod when its manifest changes."
	}
	return msg
}

// fixFor computes the edit that makes a failed item pass, where the value
// is in a file Rampart can edit: a static pod manifest's command line or
// the kubelet's (or kube-proxy's) configuration file. Edits are on the
// object's field paths; `rampart fix --benchmark` makes them.
func (b *Benchmark) fixFor(c *Control, ev Evidence, r *Result) *finding.Fix {
	if c.Test == nil || ev.noFix {
		return nil
	}
	var it *Item
	for _, x := range c.Test.Items {
		if x.Flag == ev.Key || x.Config == ev.Key || x.Flag+" "+x.Key == ev.Key || (x.Special != "" && ev.Key == "--encryption-provider-config") {
			if x.Op != "unset" || len(c.Test.Items) == 1 {
				it = x
				break
			}
		}
	}
	if it == nil || it.Special != "" {
		return nil
	}
	want, ok := wantedValue(it, ev)
	if !ok {
		return nil
	}
	// Configuration key (the kubelet's file).
	if ev.Key == it.Config && it.Config != "" {
		return &finding.Fix{
			Message: fmt.Sprintf("Set %s: %s", it.Config, want),
			Edits:   []finding.Edit{{Op: finding.Set, Path: it.Config, Value: yamlScalar(want, true)}},
		}
	}
	if ev.Object == nil || ev.Object.Kind != "Pod" {
		return nil
	}
	flag := it.Flag
	if it.Key != "" {
		// A map flag: rewrite its whole value with the key changed.
		m := parseMap(ev.flagValue)
		if it.Op == "unset" {
			delete(m, it.Key)
		} else {
			m[it.Key] = want
		}
		want = joinMap(m)
	}
	if it.Op == "unset" && it.Key == "" || (it.Key != "" && want == "") {
		if ev.Field == "" {
			return nil
		}
		edits := []finding.Edit{{Op: finding.Delete, Path: ev.Field}}
		if ev.valueField != "" {
			edits = []finding.Edit{{Op: finding.Delete, Path: ev.valueField}, {Op: finding.Delete, Path: ev.Field}}
		}
		return &finding.Fix{Message: "Remove " + flag, Edits: edits, Alone: true}
	}
	if ev.valueField != "" && !ev.Default {
		return &finding.Fix{
			Message: fmt.Sprintf("Set %s %s", flag, want),
			Edits:   []finding.Edit{{Op: finding.Set, Path: ev.valueField, Value: yamlScalar(want, false)}},
			Alone:   true,
		}
	}
	if ev.Field != "" && !ev.Default && listPathOf(ev.Field) != ev.Field && ev.Found != "not set" {
		return &finding.Fix{
			Message: fmt.Sprintf("Set %s=%s", flag, want),
			Edits:   []finding.Edit{{Op: finding.Set, Path: ev.Field, Value: yamlScalar(flag+"="+want, false)}},
			Alone:   true,
		}
	}
	list := listPathOf(ev.Field)
	if list == "" {
		return nil
	}
	if ev.Object != nil && ev.Object.Kind != "Pod" {
		return nil
	}
	return &finding.Fix{
		Message: fmt.Sprintf("Add %s=%s", flag, want),
		Edits:   []finding.Edit{{Op: finding.Append, Path: list, Value: yamlScalar(flag+"="+want, false)}},
		Alone:   true,
	}
}

// wantedValue is the value that makes an item pass, when one follows from
// it.
func wantedValue(it *Item, ev Evidence) (string, bool) {
	cur := strings.TrimSuffix(ev.Found, " (default)")
	if cur == "not set" || cur == "(no value)" {
		cur = ""
	}
	switch it.Op {
	case "eq", "gte":
		return it.Value, true
	case "noteq":
		if strings.EqualFold(it.Value, "false") {
			return "true", true
		}
	case "has":
		if ev.Default || cur == "" {
			if it.Flag == "--authorization-mode" {
				return "Node,RBAC", true
			}
			return it.Value, true
		}
		return cur + "," + it.Value, true
	case "nothave":
		var keep []string
		for _, e := range splitList(cur) {
			if e != it.Value {
				keep = append(keep, e)
			}
		}
		if len(keep) == 0 && it.Flag == "--authorization-mode" {
			if it.Config != "" {
				return "Webhook", true // the kubelet
			}
			return "Node,RBAC", true
		}
		return strings.Join(keep, ","), len(keep) > 0
	case "unset":
		return "", true
	}
	return "", false
}

func joinMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, ",")
}

// listPathOf is the command list of an item path (or the list path
// itself): "spec.containers[0].command[3]" → "spec.containers[0].command".
func listPathOf(field string) string {
	if strings.HasSuffix(field, "]") {
		if i := strings.LastIndexByte(field, '['); i > 0 && strings.Contains(field[:i], "containers[") && (strings.HasSuffix(field[:i], ".command") || strings.HasSuffix(field[:i], ".args")) {
			return field[:i]
		}
	}
	if strings.HasSuffix(field, ".command") || strings.HasSuffix(field, ".args") {
		return field
	}
	return ""
}

// yamlScalar writes a value as YAML text: typed (a boolean or number stays
// one) or as a string, quoted when plain text would read otherwise.
func yamlScalar(s string, typed bool) string {
	if typed {
		if s == "true" || s == "false" {
			return s
		}
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return s
		}
	}
	plain := s != "" && !strings.ContainsAny(s, ":#{}[]&*!|>'\"%@`\n") && s[0] != ' ' && s[len(s)-1] != ' '
	if plain && !typed {
		low := strings.ToLower(s)
		if low == "true" || low == "false" || low == "null" || low == "~" || low == "yes" || low == "no" {
			plain = false
		}
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			plain = false
		}
	}
	if plain {
		return s
	}
	return strconv.Quote(s)
}
