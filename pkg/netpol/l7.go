package netpol

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rampart-k8s/rampart/pkg/inventory"
)

// L7Rule is an application-layer restriction on connections to the pods
// it selects: an Istio AuthorizationPolicy rule or the HTTP rules of a
// CiliumNetworkPolicy port. L3/L4 decides whether a connection is made;
// these decide which requests on it are served.
type L7Rule struct {
	// Source names the policy: "AuthorizationPolicy NS/NAME rules[0]".
	Source    string `json:"source"`
	Action    string `json:"action"` // ALLOW, DENY, AUDIT, CUSTOM
	Namespace string `json:"namespace"`
	// Ports are the destination ports it applies to (empty: every port).
	Ports   []int32  `json:"ports,omitempty"`
	Methods []string `json:"methods,omitempty"`
	Paths   []string `json:"paths,omitempty"`
	Hosts   []string `json:"hosts,omitempty"`
	// From describes the sources it names ("any" when none).
	From string `json:"from"`

	selector labels.Selector // nil: every pod of Namespace
	meshWide bool
}

// Applies reports whether the rule restricts requests to pod on port.
func (r L7Rule) Applies(pod *Pod, port int32) bool {
	if !r.meshWide && pod.Namespace != r.Namespace {
		return false
	}
	if r.selector != nil && !r.selector.Matches(labels.Set(pod.Labels)) {
		return false
	}
	if len(r.Ports) == 0 {
		return true
	}
	for _, p := range r.Ports {
		if p == port {
			return true
		}
	}
	return false
}

// Describe says what the rule lets through (or refuses).
func (r L7Rule) Describe() string {
	var parts []string
	if len(r.Methods) > 0 {
		parts = append(parts, "methods "+strings.Join(r.Methods, ", "))
	}
	if len(r.Paths) > 0 {
		parts = append(parts, "paths "+strings.Join(r.Paths, ", "))
	}
	if len(r.Hosts) > 0 {
		parts = append(parts, "hosts "+strings.Join(r.Hosts, ", "))
	}
	what := "every request"
	if len(parts) > 0 {
		what = strings.Join(parts, "; ")
	}
	return fmt.Sprintf("%s %s: %s from %s", r.Source, r.Action, what, r.From)
}

type authorizationPolicySpec struct {
	Selector *metav1.LabelSelector `json:"selector"`
	Action   string                `json:"action"`
	Rules    []struct {
		From []struct {
			Source map[string][]string `json:"source"`
		} `json:"from"`
		To []struct {
			Operation struct {
				Methods []string `json:"methods"`
				Paths   []string `json:"paths"`
				Ports   []string `json:"ports"`
				Hosts   []string `json:"hosts"`
			} `json:"operation"`
		} `json:"to"`
	} `json:"rules"`
}

// L7Rules lists the L7 rules of inv: Istio AuthorizationPolicies (a policy
// in rootNamespace without selector applies mesh-wide) and the HTTP rules
// of CiliumNetworkPolicies, sorted by source.
func L7Rules(inv *inventory.Inventory, rootNamespace string) []L7Rule {
	var out []L7Rule
	for _, o := range inv.OfKind("AuthorizationPolicy") {
		if !strings.HasPrefix(o.APIVersion, "security.istio.io/") {
			continue
		}
		var spec authorizationPolicySpec
		if !o.DecodeJSON("spec", &spec) {
			continue
		}
		ns := o.EffectiveNamespace()
		base := L7Rule{Action: strings.ToUpper(spec.Action), Namespace: ns}
		if base.Action == "" {
			base.Action = "ALLOW"
		}
		if spec.Selector != nil {
			if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil {
				base.selector = sel
			}
		} else if ns == rootNamespace {
			base.meshWide = true
		}
		name := "AuthorizationPolicy " + ns + "/" + o.Name
		if len(spec.Rules) == 0 {
			r := base
			r.Source, r.From = name, "nobody"
			if r.Action == "DENY" {
				r.From = "nobody (denies nothing)"
			}
			out = append(out, r) // ALLOW with no rule: every request is denied
			continue
		}
		for i, rule := range spec.Rules {
			from := describeSources(rule.From)
			tos := rule.To
			if len(tos) == 0 {
				r := base
				r.Source, r.From = fmt.Sprintf("%s rules[%d]", name, i), from
				out = append(out, r)
				continue
			}
			for j, to := range tos {
				r := base
				r.Source, r.From = fmt.Sprintf("%s rules[%d].to[%d]", name, i, j), from
				r.Methods, r.Paths, r.Hosts = to.Operation.Methods, to.Operation.Paths, to.Operation.Hosts
				for _, p := range to.Operation.Ports {
					if n, err := strconv.Atoi(p); err == nil {
						r.Ports = append(r.Ports, int32(n))
					}
				}
				out = append(out, r)
			}
		}
	}
	for _, o := range inv.OfKind("CiliumNetworkPolicy") {
		if !isCilium(o) {
			continue
		}
		ns := o.EffectiveNamespace()
		for _, s := range ciliumSpecs(o) {
			if s.EndpointSelector == nil {
				continue
			}
			pods, _ := ciliumSelector(*s.EndpointSelector)
			sel, err := metav1.LabelSelectorAsSelector(pods)
			if err != nil {
				continue
			}
			for i, rule := range s.Ingress {
				for j, pr := range rule.ToPorts {
					if pr.Rules == nil || len(pr.Rules.HTTP) == 0 {
						continue
					}
					r := L7Rule{Source: fmt.Sprintf("CiliumNetworkPolicy %s/%s ingress[%d].toPorts[%d]", ns, o.Name, i, j), Action: "ALLOW", Namespace: ns, selector: sel, From: describeEndpoints(rule.FromEndpoints)}
					for _, p := range pr.Ports {
						if n, err := strconv.Atoi(p.Port); err == nil {
							r.Ports = append(r.Ports, int32(n))
						}
					}
					for _, h := range pr.Rules.HTTP {
						if h.Method != "" {
							r.Methods = append(r.Methods, h.Method)
						}
						if h.Path != "" {
							r.Paths = append(r.Paths, h.Path)
						}
						if h.Host != "" {
							r.Hosts = append(r.Hosts, h.Host)
						}
					}
					out = append(out, r)
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

func describeSources(from []struct {
	Source map[string][]string `json:"source"`
}) string {
	var parts []string
	for _, f := range from {
		keys := make([]string, 0, len(f.Source))
		for k := range f.Source {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts = append(parts, k+" "+strings.Join(f.Source[k], ", "))
		}
	}
	if len(parts) == 0 {
		return "any source"
	}
	return strings.Join(parts, "; ")
}

func describeEndpoints(eps []metav1.LabelSelector) string {
	if len(eps) == 0 {
		return "the rule's other peers"
	}
	var parts []string
	for _, e := range eps {
		parts = append(parts, metav1.FormatLabelSelector(&e))
	}
	return "endpoints " + strings.Join(parts, "; ")
}
