package checks

import (
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// apiChange is one API version that Kubernetes removed or deprecated.
type apiChange struct {
	removedIn   string // "" when deprecated but still served
	replacement string
}

// removedAPIs maps "group/version" (or "group/version/Kind" for single
// kinds) to what replaced it, after the Kubernetes deprecated API
// migration guide.
var removedAPIs = map[string]apiChange{
	"extensions/v1beta1/Ingress":                {"1.22", "networking.k8s.io/v1 Ingress"},
	"extensions/v1beta1/PodSecurityPolicy":      {"1.16", "Pod Security Admission (namespace labels)"},
	"extensions/v1beta1/NetworkPolicy":          {"1.16", "networking.k8s.io/v1 NetworkPolicy"},
	"extensions/v1beta1":                        {"1.16", "apps/v1"},
	"apps/v1beta1":                              {"1.16", "apps/v1"},
	"apps/v1beta2":                              {"1.16", "apps/v1"},
	"policy/v1beta1/PodSecurityPolicy":          {"1.25", "Pod Security Admission (namespace labels)"},
	"policy/v1beta1/PodDisruptionBudget":        {"1.25", "policy/v1 PodDisruptionBudget"},
	"batch/v1beta1/CronJob":                     {"1.25", "batch/v1 CronJob"},
	"networking.k8s.io/v1beta1":                 {"1.22", "networking.k8s.io/v1"},
	"rbac.authorization.k8s.io/v1beta1":         {"1.22", "rbac.authorization.k8s.io/v1"},
	"rbac.authorization.k8s.io/v1alpha1":        {"1.22", "rbac.authorization.k8s.io/v1"},
	"admissionregistration.k8s.io/v1beta1":      {"1.22", "admissionregistration.k8s.io/v1"},
	"apiextensions.k8s.io/v1beta1":              {"1.22", "apiextensions.k8s.io/v1"},
	"apiregistration.k8s.io/v1beta1":            {"1.22", "apiregistration.k8s.io/v1"},
	"authentication.k8s.io/v1beta1":             {"1.22", "authentication.k8s.io/v1"},
	"authorization.k8s.io/v1beta1":              {"1.22", "authorization.k8s.io/v1"},
	"certificates.k8s.io/v1beta1":               {"1.22", "certificates.k8s.io/v1"},
	"coordination.k8s.io/v1beta1":               {"1.22", "coordination.k8s.io/v1"},
	"scheduling.k8s.io/v1beta1":                 {"1.22", "scheduling.k8s.io/v1"},
	"storage.k8s.io/v1beta1/CSIStorageCapacity": {"1.27", "storage.k8s.io/v1 CSIStorageCapacity"},
	"storage.k8s.io/v1beta1":                    {"1.22", "storage.k8s.io/v1"},
	"autoscaling/v2beta1":                       {"1.25", "autoscaling/v2"},
	"autoscaling/v2beta2":                       {"1.26", "autoscaling/v2"},
	"discovery.k8s.io/v1beta1":                  {"1.25", "discovery.k8s.io/v1"},
	"events.k8s.io/v1beta1":                     {"1.25", "events.k8s.io/v1"},
	"node.k8s.io/v1beta1":                       {"1.25", "node.k8s.io/v1"},
	"flowcontrol.apiserver.k8s.io/v1beta1":      {"1.26", "flowcontrol.apiserver.k8s.io/v1"},
	"flowcontrol.apiserver.k8s.io/v1beta2":      {"1.29", "flowcontrol.apiserver.k8s.io/v1"},
	"flowcontrol.apiserver.k8s.io/v1beta3":      {"1.32", "flowcontrol.apiserver.k8s.io/v1"},
	"v1/ComponentStatus":                        {"", "the API server's /livez and /readyz endpoints"},
	"v1/Endpoints":                              {"", "discovery.k8s.io/v1 EndpointSlice"},
	"resource.k8s.io/v1alpha2":                  {"1.31", "resource.k8s.io/v1"},
}

func apiChangeFor(apiVersion, kind string) (apiChange, bool) {
	if c, ok := removedAPIs[apiVersion+"/"+kind]; ok {
		return c, true
	}
	c, ok := removedAPIs[apiVersion]
	return c, ok
}

func apiCheck(id string, removed bool, sev check.Severity, title, why, fix string) check.Check {
	return check.Check{
		ID: id, Title: title, Severity: sev, Category: check.CategoryDeprecatedAPI,
		Description: why, Remediation: fix,
		References: []check.Ref{k8sDocs("Deprecated API migration guide", "https://kubernetes.io/docs/reference/using-api/deprecation-guide/")},
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			c, ok := apiChangeFor(o.APIVersion, o.Kind)
			if !ok || (c.removedIn != "") != removed {
				return nil
			}
			if removed {
				return []check.Finding{check.NewFinding(o, "apiVersion", o.APIVersion+" "+o.Kind+" was removed in Kubernetes "+c.removedIn+"; use "+c.replacement)}
			}
			return []check.Finding{check.NewFinding(o, "apiVersion", o.APIVersion+" "+o.Kind+" is deprecated; use "+c.replacement)}
		},
	}
}

// removedAPIVersion: objects of API versions current Kubernetes no longer
// serves are rejected at apply time, and a PodSecurityPolicy protects
// nothing any more.
func removedAPIVersion() check.Check {
	return apiCheck("removed-api-version", true, check.High, "API version removed from Kubernetes",
		"The API server no longer serves this apiVersion: applying the manifest fails, and a removed security object (PodSecurityPolicy) protects nothing while it looks like it does.",
		"Migrate the object to the replacement API named in the message.")
}

// deprecatedAPIVersion: still served, but on its way out.
func deprecatedAPIVersion() check.Check {
	return apiCheck("deprecated-api-version", false, check.Low, "Deprecated API",
		"The API is deprecated: it still works, but will be removed, and its replacement is where fixes and features land.",
		"Move to the replacement API named in the message.")
}
