package netpol

import (
	"fmt"
	"slices"
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
	// NotMethods, NotPaths: requests these do not match (Istio).
	NotMethods []string `json:"notMethods,omitempty"`
	NotPaths   []string `json:"notPaths,omitempty"`
	// Headers and Other (conditions, Kafka or DNS rules) narrow it further.
	Headers []string `json:"headers,omitempty"`
	Other   string   `json:"other,omitempty"`
	// From describes the sources it names ("any" when none).
	From string `json:"from"`
	// Egress: the rule limits what the selected pods send (Cilium egress),
	// not what they receive.
	Egress bool `json:"egress,omitempty"`

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
	return len(r.Ports) == 0 || slices.Contains(r.Ports, port)
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
	if len(r.NotMethods) > 0 {
		parts = append(parts, "methods other than "+strings.Join(r.NotMethods, ", "))
	}
	if len(r.NotPaths) > 0 {
		parts = append(parts, "paths other than "+strings.Join(r.NotPaths, ", "))
	}
	if len(r.Headers) > 0 {
		parts = append(parts, "headers "+strings.Join(r.Headers, ", "))
	}
	if r.Other != "" {
		parts = append(parts, r.Other)
	}
	what := "every request"
	if len(parts) > 0 {
		what = strings.Join(parts, "; ")
	}
	dir := "from"
	if r.Egress {
		dir = "sent to"
	}
	return fmt.Sprintf("%s %s: %s %s %s", r.Source, r.Action, what, dir, r.From)
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
				Methods    []string `json:"methods"`
				Paths      []string `json:"paths"`
				Ports      []string `json:"ports"`
				Hosts      []string `json:"hosts"`
				NotMethods []string `json:"notMethods"`
				NotPaths   []string `json:"notPaths"`
				NotPorts   []string `json:"notPorts"`
			} `json:"operation"`
		} `json:"to"`
		When []struct {
			Key string `json:"key"`
		} `json:"when"`
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
		if spec.Selector != nil && (len(spec.Selector.MatchLabels) > 0 || len(spec.Selector.MatchExpressions) > 0) {
			if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil {
				base.selector = sel
			}
		}
		// In the root namespace a policy applies in every namespace (to
		// the workloads its selector matches, if it has one).
		base.meshWide = ns == rootNamespace
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
			var when []string
			for _, w := range rule.When {
				when = append(when, w.Key)
			}
			if len(when) > 0 {
				from += " when " + strings.Join(when, ", ") + " match"
			}
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
				r.NotMethods, r.NotPaths = to.Operation.NotMethods, to.Operation.NotPaths
				if len(to.Operation.NotPorts) > 0 {
					r.Other = "ports other than " + strings.Join(to.Operation.NotPorts, ", ")
				}
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
			add := func(dir string, rules []ciliumRule, egress bool) {
				for k, rule := range rules {
					peers := describeEndpoints(rule.FromEndpoints)
					if egress {
						peers = describeEndpoints(rule.ToEndpoints)
					}
					for j, pr := range rule.ToPorts {
						if pr.Rules == nil {
							continue
						}
						base := L7Rule{Action: "ALLOW", Namespace: ns, selector: sel, From: peers, Egress: egress}
						for _, p := range pr.Ports {
							if n, err := strconv.Atoi(p.Port); err == nil {
								base.Ports = append(base.Ports, int32(n))
							}
						}
						src := fmt.Sprintf("CiliumNetworkPolicy %s/%s %s[%d].toPorts[%d]", ns, o.Name, dir, k, j)
						// Each HTTP rule allows its own method, path, host
						// and headers together.
						for h, hr := range pr.Rules.HTTP {
							r := base
							r.Source = fmt.Sprintf("%s.rules.http[%d]", src, h)
							if hr.Method != "" {
								r.Methods = []string{hr.Method}
							}
							if hr.Path != "" {
								r.Paths = []string{hr.Path}
							}
							if hr.Host != "" {
								r.Hosts = []string{hr.Host}
							}
							r.Headers = hr.Headers
							out = append(out, r)
						}
						if len(pr.Rules.Kafka) > 0 {
							r := base
							r.Source, r.Other = src+".rules.kafka", fmt.Sprintf("%d Kafka rules (topics, API keys)", len(pr.Rules.Kafka))
							out = append(out, r)
						}
						if len(pr.Rules.DNS) > 0 {
							r := base
							r.Source, r.Other = src+".rules.dns", fmt.Sprintf("%d DNS rules (names a proxy resolves)", len(pr.Rules.DNS))
							out = append(out, r)
						}
					}
				}
			}
			add("ingress", s.Ingress, false)
			add("egress", s.Egress, true)
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
