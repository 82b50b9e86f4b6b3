package checks

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

var exposureRefs = []check.Ref{
	nsaNetworkSeparation,
	ref("mitre", "T1133", "MITRE ATT&CK T1133: External Remote Services", "https://attack.mitre.org/techniques/T1133/"),
}

func servicePorts(s *corev1.Service, node bool) string {
	var ports []string
	for _, p := range s.Spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		if node && p.NodePort != 0 {
			ports = append(ports, fmt.Sprintf("%d/%s (node port %d)", p.Port, proto, p.NodePort))
		} else {
			ports = append(ports, fmt.Sprintf("%d/%s", p.Port, proto))
		}
	}
	return strings.Join(ports, ", ")
}

// serviceNodePort: a NodePort Service opens its ports on every node.
func serviceNodePort() check.Check {
	return check.Check{
		ID:          "service-nodeport",
		Title:       "Service exposed on every node (NodePort)",
		Severity:    check.Medium,
		Category:    check.CategoryExposure,
		Description: "A NodePort Service listens on a port of every node's address, outside the control of Ingress, load balancer and most firewall rules; anything that can reach a node reaches the workload.",
		Remediation: "Use a ClusterIP Service behind an Ingress or Gateway, or a LoadBalancer with loadBalancerSourceRanges.",
		References:  exposureRefs,
		Scope:       check.Scope{Kinds: []string{"Service"}},
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			s, ok := o.Typed.(*corev1.Service)
			if !ok || s.Spec.Type != corev1.ServiceTypeNodePort {
				return nil
			}
			return []check.Finding{check.NewFinding(o, "spec.type", "Service of type NodePort exposes "+servicePorts(s, true)+" on every node")}
		},
	}
}

// serviceLoadBalancer: a LoadBalancer Service gets an external address.
func serviceLoadBalancer() check.Check {
	return check.Check{
		ID:          "service-loadbalancer",
		Title:       "Service exposed through a load balancer",
		Severity:    check.Medium,
		Category:    check.CategoryExposure,
		Description: "A LoadBalancer Service usually gets an address reachable from outside the cluster, often the internet, and also opens node ports. Without loadBalancerSourceRanges anyone can connect.",
		Remediation: "Expose HTTP through an Ingress or Gateway with TLS; when a load balancer is needed, restrict it with loadBalancerSourceRanges or an internal load balancer annotation.",
		References:  exposureRefs,
		Scope:       check.Scope{Kinds: []string{"Service"}},
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			s, ok := o.Typed.(*corev1.Service)
			if !ok || s.Spec.Type != corev1.ServiceTypeLoadBalancer {
				return nil
			}
			msg := "Service of type LoadBalancer exposes " + servicePorts(s, false)
			if len(s.Spec.LoadBalancerSourceRanges) == 0 {
				msg += " to any source (no loadBalancerSourceRanges)"
			} else {
				msg += " to " + strings.Join(s.Spec.LoadBalancerSourceRanges, ", ")
			}
			return []check.Finding{check.NewFinding(o, "spec.type", msg)}
		},
	}
}

// ingressNoTLS: every host an Ingress routes must be covered by spec.tls.
func ingressNoTLS() check.Check {
	return check.Check{
		ID:          "ingress-no-tls",
		Title:       "Ingress serves a host without TLS",
		Severity:    check.Medium,
		Category:    check.CategoryExposure,
		Description: "An Ingress rule whose host no spec.tls entry covers is served over plain HTTP: credentials and session cookies cross the network in clear text and can be altered on the way.",
		Remediation: "Add a spec.tls entry with a certificate Secret (cert-manager can issue it) for every host, and redirect HTTP to HTTPS.",
		References:  exposureRefs,
		Scope:       check.Scope{Kinds: []string{"Ingress"}},
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			ing, ok := o.Typed.(*networkingv1.Ingress)
			if !ok {
				return nil
			}
			covered := map[string]bool{}
			for _, t := range ing.Spec.TLS {
				for _, h := range t.Hosts {
					covered[h] = true
				}
			}
			var out []check.Finding
			for i, r := range ing.Spec.Rules {
				if covered[r.Host] || (r.Host == "" && len(ing.Spec.TLS) > 0) {
					continue
				}
				host := r.Host
				if host == "" {
					host = "(any host)"
				}
				out = append(out, check.NewFinding(o, "spec.rules["+itoa(i)+"].host", "host "+host+" is served without TLS"))
			}
			if len(ing.Spec.Rules) == 0 && ing.Spec.DefaultBackend != nil && len(ing.Spec.TLS) == 0 {
				out = append(out, check.NewFinding(o, "spec.defaultBackend", "the default backend is served without TLS"))
			}
			return out
		},
	}
}

// ingressWildcardHost: a wildcard host routes every subdomain to the backend.
func ingressWildcardHost() check.Check {
	return check.Check{
		ID:          "ingress-wildcard-host",
		Title:       "Ingress routes a wildcard host",
		Severity:    check.Low,
		Category:    check.CategoryExposure,
		Description: "A wildcard host (*.example.com) sends every subdomain to the backend, including names nobody meant to publish, and makes subdomain takeover and host-header attacks easier.",
		Remediation: "List the exact hosts the backend serves.",
		References:  exposureRefs,
		Scope:       check.Scope{Kinds: []string{"Ingress"}},
		Run: func(_ *check.Context, o *object.Object) []check.Finding {
			ing, ok := o.Typed.(*networkingv1.Ingress)
			if !ok {
				return nil
			}
			var out []check.Finding
			for i, r := range ing.Spec.Rules {
				if strings.HasPrefix(r.Host, "*") {
					out = append(out, check.NewFinding(o, "spec.rules["+itoa(i)+"].host", "rule routes the wildcard host "+r.Host))
				}
			}
			return out
		},
	}
}
