package fix

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/object"
)

var systemNamespace = map[string]bool{"kube-system": true, "kube-public": true, "kube-node-lease": true}

// ManagedBy labels every object rampart generates.
var ManagedBy = map[string]string{"app.kubernetes.io/managed-by": "rampart"}

// generated is an object to add, with why.
type generated struct {
	obj    runtime.Object
	reason string
	ns     string // the namespace it lands in (the object may name none)
}

// generate computes the objects the scanned workloads lack: a default-deny
// NetworkPolicy per namespace, per workload a policy allowing ingress on the
// ports its Services expose and egress to cluster DNS, and a ServiceAccount
// for each workload that runs as "default" (the workload is pointed at it by
// an edit). Objects from the generated file itself are ignored, so the same
// input always generates the same file.
func generate(inv *inventory.Inventory, generatedFile string) []generated {
	var out []generated
	services := newServiceIndex(inv)
	byNS := servicesByNamespace(inv)
	for _, ns := range inv.WorkloadNamespaces() {
		var workloads []*object.Object
		for _, w := range inv.Workloads(ns) {
			if w.File != generatedFile {
				workloads = append(workloads, w)
			}
		}
		if len(workloads) == 0 {
			continue
		}
		// Input that names no namespace gets generated objects that name
		// none either: they land where the manifests are applied (-n).
		outNS := ns
		implicit := true
		for _, w := range workloads {
			implicit = implicit && w.ImplicitNamespace
		}
		if implicit {
			outNS = ""
		}
		// A default deny in a system namespace would cut off the cluster's
		// own components; those namespaces get only per-workload policies.
		if !systemNamespace[ns] && !hasDefaultDeny(inv, ns, generatedFile) {
			out = append(out, generated{policy(outNS, "default-deny", metav1.LabelSelector{}, nil, nil), "namespace " + ns + " has no default-deny policy", ns})
		}
		for _, w := range workloads {
			sel := stableLabels(w.Pod.Meta.Labels)
			if len(sel) == 0 {
				continue // nothing lasting to select it by; the edit adding a label comes first
			}
			ports := servicePorts(byNS, ns, w.Pod.Meta.Labels)
			var ingress []networkingv1.NetworkPolicyIngressRule
			if len(ports) > 0 {
				ingress = []networkingv1.NetworkPolicyIngressRule{{Ports: ports}}
			}
			// Replicas of one workload may talk to each other (a cluster's
			// members) on the ports they listen on.
			own := dedupePorts(append(containerPorts(w), ports...))
			self := []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: copyLabels(sel)}}}
			if cps := containerPorts(w); len(cps) > 0 {
				ingress = append(ingress, networkingv1.NetworkPolicyIngressRule{From: self, Ports: cps})
			}
			udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
			dns := intstr.FromInt32(53)
			egress := []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
				}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &dns}, {Protocol: &tcp, Port: &dns}},
			}}
			if len(own) > 0 {
				egress = append(egress, networkingv1.NetworkPolicyEgressRule{To: self, Ports: own})
			}
			refs := services.references(inv, w)
			for _, r := range refs {
				peer := networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: copyLabels(r.svc.Spec.Selector)}}
				if r.ns != ns {
					peer.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": r.ns}}
				}
				egress = append(egress, networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{peer}, Ports: targetPorts(r.svc)})
			}
			reason := fmt.Sprintf("%s %s: ingress on %d Service port(s), egress to DNS", w.Kind, w.Name, len(ports))
			if len(refs) > 0 {
				names := make([]string, len(refs))
				for i, r := range refs {
					names[i] = r.ns + "/" + r.svc.Name
				}
				reason += " and to the Services its manifests name (" + strings.Join(names, ", ") + ")"
			}
			out = append(out, generated{policy(outNS, strings.ToLower(w.Name)+"-"+strings.ToLower(w.Kind), metav1.LabelSelector{MatchLabels: sel}, ingress, egress), reason, ns})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return key(out[i].obj) < key(out[j].obj) })
	return out
}

// changingLabels change with every release or rollout: a selector that used
// them would stop matching the next version of the pods.
var changingLabels = map[string]bool{
	"app.kubernetes.io/version": true, "version": true, "helm.sh/chart": true, "chart": true,
	"pod-template-hash": true, "controller-revision-hash": true, "pod-template-generation": true,
	"statefulset.kubernetes.io/pod-name": true, "apps.kubernetes.io/pod-index": true,
}

// stableLabels are the pod labels a generated policy may select by.
func stableLabels(l map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range l {
		if !changingLabels[k] {
			out[k] = v
		}
	}
	return out
}

func key(o runtime.Object) string {
	switch t := o.(type) {
	case *networkingv1.NetworkPolicy:
		return "NetworkPolicy/" + t.Namespace + "/" + t.Name
	case *corev1.ServiceAccount:
		return "ServiceAccount/" + t.Namespace + "/" + t.Name
	}
	return ""
}

func policy(ns, name string, sel metav1.LabelSelector, in []networkingv1.NetworkPolicyIngressRule, eg []networkingv1.NetworkPolicyEgressRule) *networkingv1.NetworkPolicy {
	types := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: ManagedBy},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: sel, PolicyTypes: types, Ingress: in, Egress: eg},
	}
}

func serviceAccount(ns, name string) *corev1.ServiceAccount {
	f := false
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   metav1.ObjectMeta{Name: name, Namespace: ns, Labels: ManagedBy},
		AutomountServiceAccountToken: &f,
	}
}

func hasDefaultDeny(inv *inventory.Inventory, ns, generatedFile string) bool {
	in, eg := false, false
	for _, np := range inv.NetworkPolicies(ns) {
		if o := inv.ObjectOf(np); o != nil && o.File == generatedFile {
			continue
		}
		if len(np.Spec.PodSelector.MatchLabels)+len(np.Spec.PodSelector.MatchExpressions) > 0 {
			continue
		}
		for _, t := range np.Spec.PolicyTypes {
			in = in || (t == networkingv1.PolicyTypeIngress && len(np.Spec.Ingress) == 0)
			eg = eg || (t == networkingv1.PolicyTypeEgress && len(np.Spec.Egress) == 0)
		}
	}
	return in && eg
}

// servicePorts lists the target ports of the Services of ns (services,
// by namespace) whose selector matches podLabels, deduplicated.
func servicePorts(services map[string][]*corev1.Service, ns string, podLabels map[string]string) []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for _, svc := range services[ns] {
		if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(podLabels)) {
			out = append(out, targetPorts(svc)...)
		}
	}
	return dedupePorts(out)
}

// servicesByNamespace indexes the Services with a selector by namespace.
func servicesByNamespace(inv *inventory.Inventory) map[string][]*corev1.Service {
	m := map[string][]*corev1.Service{}
	for _, o := range inv.Objects {
		if svc, ok := o.Typed.(*corev1.Service); ok && len(svc.Spec.Selector) > 0 {
			m[o.EffectiveNamespace()] = append(m[o.EffectiveNamespace()], svc)
		}
	}
	return m
}

// targetPorts are the ports a Service's traffic reaches its pods on.
func targetPorts(svc *corev1.Service) []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for _, p := range svc.Spec.Ports {
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 || target.Type == intstr.String && target.StrVal == "" {
			target = intstr.FromInt32(p.Port)
		}
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		t, pr := target, proto
		out = append(out, networkingv1.NetworkPolicyPort{Port: &t, Protocol: &pr})
	}
	return dedupePorts(out)
}

// containerPorts are the ports a workload's containers declare.
func containerPorts(w *object.Object) []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for _, c := range w.Pod.Containers() {
		for _, p := range c.Ports {
			port := intstr.FromInt32(p.ContainerPort)
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			if p.ContainerPort > 0 {
				out = append(out, networkingv1.NetworkPolicyPort{Port: &port, Protocol: &proto})
			}
		}
	}
	return dedupePorts(out)
}

func dedupePorts(ps []networkingv1.NetworkPolicyPort) []networkingv1.NetworkPolicyPort {
	seen := map[string]bool{}
	out := ps[:0:0]
	for _, p := range ps {
		k := p.Port.String() + "/" + string(*p.Protocol)
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}

func copyLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// render writes objects as a YAML stream with a header, without the empty
// status and creationTimestamp fields typed objects carry.
func render(objs []generated) (string, error) {
	var b strings.Builder
	b.WriteString("# Generated by rampart fix. Review before applying; rerunning fix rewrites this file.\n")
	for _, g := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(g.obj)
		if err != nil {
			return "", err
		}
		delete(m, "status")
		if meta, ok := m["metadata"].(map[string]any); ok {
			delete(meta, "creationTimestamp")
		}
		data, err := yaml.Marshal(m)
		if err != nil {
			return "", err
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	return b.String(), nil
}
