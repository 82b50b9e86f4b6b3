package manifest

import "strings"

// clusterScoped are the built-in kinds that live outside namespaces.
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ComponentStatus": true,
	"ClusterRole": true, "ClusterRoleBinding": true,
	"CustomResourceDefinition": true, "APIService": true,
	"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
	"MutatingAdmissionPolicy": true, "MutatingAdmissionPolicyBinding": true,
	"StorageClass": true, "CSIDriver": true, "CSINode": true, "VolumeAttachment": true, "VolumeAttributesClass": true,
	"PriorityClass": true, "RuntimeClass": true, "IngressClass": true,
	"CertificateSigningRequest": true, "ClusterTrustBundle": true,
	"PodSecurityPolicy": true, "FlowSchema": true, "PriorityLevelConfiguration": true,
	"DeviceClass": true, "ResourceSlice": true, "IPAddress": true, "ServiceCIDR": true,
	"StorageVersion": true, "StorageVersionMigration": true,
	"TokenReview": true, "SubjectAccessReview": true, "SelfSubjectAccessReview": true,
	"SelfSubjectRulesReview": true, "SelfSubjectReview": true,
}

// Scopes tells which kinds are namespaced: built-in kinds by their API,
// custom kinds by a CustomResourceDefinition among the objects, and other
// custom kinds by name (a kind starting with "Cluster", as ClusterIssuer or
// ClusterPolicy, is taken as cluster-scoped; any other as namespaced).
type Scopes struct {
	crd map[string]bool // group/kind → cluster-scoped
}

// NewScopes learns the scopes the CustomResourceDefinitions in objs declare.
func NewScopes(objs []*Object) *Scopes {
	s := &Scopes{crd: map[string]bool{}}
	for _, o := range objs {
		if o.Kind != "CustomResourceDefinition" || !strings.HasPrefix(o.APIVersion, "apiextensions.k8s.io/") {
			continue
		}
		var spec struct {
			Group string `json:"group"`
			Scope string `json:"scope"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
		}
		if o.Decode("spec", &spec) && spec.Names.Kind != "" {
			s.crd[spec.Group+"/"+spec.Names.Kind] = spec.Scope == "Cluster"
		}
	}
	return s
}

// ClusterScoped reports whether objects of kind in apiVersion live outside
// namespaces.
func (s *Scopes) ClusterScoped(apiVersion, kind string) bool {
	group, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		group = ""
	}
	if c, ok := s.crd[group+"/"+kind]; ok {
		return c
	}
	if clusterScoped[kind] {
		return !strings.Contains(group, ".") || strings.HasSuffix(group, ".k8s.io")
	}
	return strings.HasPrefix(kind, "Cluster") && strings.Contains(group, ".")
}

// SetDefaultNamespace puts the namespaced objects that name no namespace in
// ns, as kubectl apply -n (and helm install -n) do; cluster-scoped objects
// keep none. Objects it changes are marked ImplicitNamespace.
func SetDefaultNamespace(objs []*Object, ns string) {
	if ns == "" {
		ns = "default"
	}
	s := NewScopes(objs)
	for _, o := range objs {
		if s.ClusterScoped(o.APIVersion, o.Kind) {
			if o.ImplicitNamespace {
				o.Namespace, o.ImplicitNamespace = "", false
				if m, ok := o.Typed.(interface{ SetNamespace(string) }); ok {
					m.SetNamespace("")
				}
			}
			continue
		}
		if o.Namespace == "" {
			o.Namespace, o.ImplicitNamespace = ns, true
			if m, ok := o.Typed.(interface{ SetNamespace(string) }); ok {
				m.SetNamespace(ns)
			}
		}
	}
}
