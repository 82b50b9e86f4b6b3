package report

import (
	"bytes"
	"io"
	"sort"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
)

// ReportName is the name of the Report (per namespace) and ClusterReport
// Rampart writes, in a cluster as in a file.
const ReportName = "rampart"

// ReportResults turns findings into openreports.io results, as the
// in-cluster controller writes them: one fail result per finding (skip
// with the reason where skipped names one), the subject's reference from
// subject, and pass counted for every judged object without a failure.
func ReportResults(findings []check.Finding, objects []engine.Evaluated, subject func(check.ObjectRef) corev1.ObjectReference, skipped map[int]string) ([]reportsv1alpha1.ReportResult, reportsv1alpha1.ReportSummary) {
	var results []reportsv1alpha1.ReportResult
	failing := map[string]bool{}
	summary := reportsv1alpha1.ReportSummary{}
	for i, f := range findings {
		result := reportsv1alpha1.ReportResult{
			Source:      "rampart",
			Policy:      f.CheckID,
			Rule:        f.Field,
			Category:    string(f.Category),
			Severity:    reportsv1alpha1.ResultSeverity(f.Severity.String()),
			Result:      "fail",
			Scored:      true,
			Subjects:    []corev1.ObjectReference{subject(f.Object)},
			Description: f.Message,
			Properties:  map[string]string{"remediation": f.Remediation},
		}
		if why := skipped[i]; why != "" {
			result.Result = "skip"
			result.Properties["exempted"] = why
			summary.Skip++
		} else {
			failing[f.Object.String()] = true
			summary.Fail++
		}
		results = append(results, result)
	}
	for _, o := range objects {
		if !failing[o.Object.String()] {
			summary.Pass++
		}
	}
	return results, summary
}

// PolicyReport writes a Report for each namespace of the scanned objects
// and a ClusterReport for the cluster-scoped ones (openreports.io/v1alpha1,
// the successor of wgpolicyk8s.io's PolicyReport), as the in-cluster
// controller writes them, so that a scan of files can be applied, diffed or
// fed to the same dashboards.
type PolicyReport struct{}

// Write implements Reporter.
func (PolicyReport) Write(w io.Writer, res *engine.Result, _ Options) error {
	byNS := map[string][]check.Finding{}
	objs := map[string][]engine.Evaluated{}
	for _, f := range res.Findings {
		byNS[f.Object.Namespace] = append(byNS[f.Object.Namespace], f)
	}
	for _, o := range res.Objects {
		objs[o.Object.Namespace] = append(objs[o.Object.Namespace], o)
	}
	names := map[string]bool{}
	for ns := range byNS {
		names[ns] = true
	}
	for ns := range objs {
		names[ns] = true
	}
	order := make([]string, 0, len(names))
	for ns := range names {
		order = append(order, ns)
	}
	sort.Strings(order) // the ClusterReport ("") first
	subject := func(r check.ObjectRef) corev1.ObjectReference {
		return corev1.ObjectReference{APIVersion: r.APIVersion, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
	}
	labels := map[string]string{"app.kubernetes.io/managed-by": "rampart"}
	for i, ns := range order {
		results, summary := ReportResults(byNS[ns], objs[ns], subject, nil)
		var doc any
		meta := metav1.ObjectMeta{Name: ReportName, Namespace: ns, Labels: labels}
		if ns == "" {
			doc = &reportsv1alpha1.ClusterReport{TypeMeta: metav1.TypeMeta{APIVersion: "openreports.io/v1alpha1", Kind: "ClusterReport"}, ObjectMeta: meta, Results: results, Summary: summary}
		} else {
			doc = &reportsv1alpha1.Report{TypeMeta: metav1.TypeMeta{APIVersion: "openreports.io/v1alpha1", Kind: "Report"}, ObjectMeta: meta, Results: results, Summary: summary}
		}
		data, err := ObjectYAML(doc)
		if err != nil {
			return err
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	return nil
}

// ObjectYAML writes a Kubernetes object as YAML without the empty
// creationTimestamp and status the API types carry.
func ObjectYAML(o any) ([]byte, error) {
	data, err := sigsyaml.Marshal(o)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if t := string(bytes.TrimSpace(l)); t == "creationTimestamp: null" || t == "status: {}" {
			continue
		}
		out.Write(l)
	}
	return out.Bytes(), nil
}
