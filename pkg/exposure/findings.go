package exposure

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/rampart-k8s/rampart/pkg/finding"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// Check is what the exposure analysis reports: its findings' IDs, titles,
// severities and fixes (docs/exposure.md lists them).
type Check struct {
	ID          string
	Title       string
	Severity    finding.Severity
	Remediation string
}

// The exposure analysis's checks.
var (
	CheckEntry = Check{"exposure-entry", "Entry point into the cluster", finding.Info,
		"Keep it if it is meant to be reachable; otherwise use a ClusterIP Service, limit loadBalancerSourceRanges, or remove the host port."}
	CheckPlaintext = Check{"exposure-plaintext", "Entry point serves plaintext", finding.Medium,
		"Terminate TLS at the entry: list the host under the Ingress's spec.tls with a certificate Secret, or use an HTTPS or TLS listener."}
	CheckPassthroughPlaintext = Check{"exposure-passthrough-plaintext", "TLS passthrough to a plaintext port", finding.Medium,
		"Passthrough hands the client's TLS to the backend: point the route at the port that serves TLS, or terminate TLS at the Gateway."}
	CheckMTLSPermissive = Check{"mesh-mtls-permissive", "Mesh accepts plaintext (mTLS PERMISSIVE)", finding.Medium,
		"Set a PeerAuthentication with mtls.mode STRICT for the namespace or the mesh (root namespace) once every client is in the mesh."}
	CheckMTLSDisabled = Check{"mesh-mtls-disabled", "Mesh mTLS disabled", finding.High,
		"Remove the DISABLE mode (workload, port or namespace PeerAuthentication) or set STRICT."}
	CheckNotEnrolled = Check{"mesh-not-enrolled", "Workload outside the service mesh", finding.Low,
		"Enable sidecar injection for its namespace (istio-injection=enabled or linkerd.io/inject: enabled) or enrol it in ambient mode."}
	CheckDestinationRuleTLS = Check{"destinationrule-tls-disabled", "DestinationRule disables TLS", finding.Medium,
		"Use trafficPolicy.tls.mode ISTIO_MUTUAL (or remove the tls block to let auto mTLS decide)."}
	CheckLinkerdSkipPorts = Check{"linkerd-skip-ports", "Linkerd proxy skips ports", finding.Low,
		"Skipped ports bypass the proxy and its mTLS: remove them from config.linkerd.io/skip-inbound-ports and skip-outbound-ports unless the protocol cannot be proxied."}
	CheckCiliumEncryption = Check{"cilium-encryption-disabled", "Cilium transparent encryption off", finding.Medium,
		"Set enable-wireguard: \"true\" (or enable-ipsec) in the cilium-config ConfigMap (Helm: encryption.enabled=true, encryption.type=wireguard)."}
)

// Checks lists them (for documentation and validation).
var Checks = []Check{CheckEntry, CheckPlaintext, CheckPassthroughPlaintext, CheckMTLSPermissive, CheckMTLSDisabled, CheckNotEnrolled, CheckDestinationRuleTLS, CheckLinkerdSkipPorts, CheckCiliumEncryption}

func newFinding(c Check, ref finding.ObjectRef, field string, loc *finding.Location, msg string) finding.Finding {
	return finding.Finding{CheckID: c.ID, Category: finding.CategoryExposure, Severity: c.Severity, Title: c.Title,
		Message: msg, Object: ref, Field: field, Location: loc, Remediation: c.Remediation}
}

// PortLabel is the entry's port for tables: its number, "allocated" for a
// node port the API server has yet to choose, "any" for a host-network pod
// that declares none.
func (e Entry) PortLabel() string {
	switch {
	case e.Port != 0:
		return strconv.Itoa(int(e.Port))
	case e.Kind == KindHostNetwork:
		return "any"
	}
	return "allocated"
}

// Describe says in one line what an entry opens.
func Describe(e Entry) string {
	var b strings.Builder
	switch e.Kind {
	case KindIngress, KindGateway:
		fmt.Fprintf(&b, "%s %s%s (port %d, TLS %s) -> %s", e.Kind, hostOr(e.Host), e.Path, e.Port, e.TLS, e.Backend)
	default:
		where := strings.Join(e.Addresses, ", ")
		if where == "" {
			where = "every node"
			if e.Kind == KindLoadBalancer {
				where = "the load balancer's address"
			}
		}
		port := fmt.Sprintf("%d/%s", e.Port, e.Protocol)
		switch {
		case e.Port != 0:
		case e.Kind == KindHostNetwork:
			port = "every port its processes open"
		default:
			port = "a node port the API server allocates (" + e.Protocol + ")"
		}
		fmt.Fprintf(&b, "%s %s on %s, from %s", e.Kind, port, where, strings.Join(e.Sources, ", "))
	}
	var ts []string
	for _, t := range e.Targets {
		ts = append(ts, fmt.Sprintf("%s:%d (NetworkPolicy: %s)", t.Workload, t.Port, t.NetworkPolicy))
	}
	if len(ts) > 0 {
		b.WriteString("; reaches " + strings.Join(ts, ", "))
	} else if e.Kind != KindHostNetwork {
		b.WriteString("; reaches no workload in the input")
	}
	return b.String()
}

// entryFinding is the info finding of an entry (a baseline then names
// every known entry, and a new one shows in a pull request), plus the
// plaintext finding of an HTTP entry.
func entryFinding(e Entry) []finding.Finding {
	// The entry's ID is its finding's field: a baseline then knows each
	// entry (several share a field of their object: a listener's routes).
	out := []finding.Finding{newFinding(CheckEntry, e.Object, e.ID, e.Where, Describe(e))}
	// Plaintext is reported where something is served: not on a listener
	// with no route, a rule with no (or a refused) backend, or a redirect
	// to HTTPS.
	served := e.Backend != "" && !strings.HasSuffix(e.Backend, "(no backend)")
	if e.TLS == TLSNone && !e.Redirect && served && (e.Kind == KindIngress || e.Kind == KindGateway) {
		out = append(out, newFinding(CheckPlaintext, e.Object, e.Field, e.Where,
			fmt.Sprintf("%s %s%s serves plaintext HTTP on port %d", e.Kind, hostOr(e.Host), e.Path, e.Port)))
	}
	return out
}

// passthrough reports a TLS passthrough listener whose backend port
// declares a plaintext protocol (appProtocol, or a port name as Istio
// reads it).
func (a *analysis) passthrough(gw *object.Object, field, ns, name string, port int32) {
	svc := a.service(ns, name)
	if svc == nil {
		return
	}
	sp, ok := servicePort(svc, port, "")
	if !ok || !plaintextPort(sp) {
		return
	}
	f := newFinding(CheckPassthroughPlaintext, refOf(gw), field, locate(gw, field),
		fmt.Sprintf("TLS passthrough to Service %s/%s port %d, which speaks %s", ns, name, port, portProtocol(sp)))
	for _, g := range a.out.Findings {
		if g.CheckID == f.CheckID && g.Field == f.Field && g.Message == f.Message {
			return // another route of the listener to the same port
		}
	}
	a.out.Findings = append(a.out.Findings, f)
}

func portProtocol(sp corev1.ServicePort) string {
	if sp.AppProtocol != nil {
		return *sp.AppProtocol
	}
	return sp.Name
}

func plaintextPort(sp corev1.ServicePort) bool {
	p := strings.ToLower(portProtocol(sp))
	for _, plain := range []string{"http", "h2c", "grpc", "ws", "kubernetes.io/h2c", "kubernetes.io/ws"} {
		if p == plain || strings.HasPrefix(p, plain+"-") {
			return true
		}
	}
	return false
}
