package checks

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/rampart-k8s/rampart/pkg/check"
)

var nsaPodSecurity = check.Ref{
	Source: "nsa-cisa",
	ID:     "pod-security",
	Title:  "NSA/CISA Kubernetes Hardening Guide: Kubernetes Pod security",
	URL:    "https://media.defense.gov/2022/Aug/29/2003066362/-1/-1/0/CTR_KUBERNETES_HARDENING_GUIDANCE_1.2_20220829.PDF",
}

var mitreTechniques = map[string]string{
	"T1068": "Exploitation for Privilege Escalation",
	"T1611": "Escape to Host",
}

// mitre references a MITRE ATT&CK technique by ID; the ID must be known.
func mitre(id string) check.Ref {
	title, ok := mitreTechniques[id]
	if !ok {
		panic(fmt.Sprintf("unknown MITRE ATT&CK technique %s", id)) // caught by the catalog test
	}
	return check.Ref{Source: "mitre", ID: id, Title: "MITRE ATT&CK " + id + ": " + title, URL: "https://attack.mitre.org/techniques/" + id + "/"}
}

// hostPortField points at the first port of c that sets hostPort.
func hostPortField(c *corev1.Container) string {
	for i, p := range c.Ports {
		if p.HostPort != 0 {
			return fmt.Sprintf("ports[%d].hostPort", i)
		}
	}
	return "ports"
}

// restrictedCapabilitiesField points at capabilities.add when c adds more
// than NET_BIND_SERVICE, else at capabilities.drop.
func restrictedCapabilitiesField(c *corev1.Container) string {
	if sc := c.SecurityContext; sc != nil && sc.Capabilities != nil {
		for _, a := range sc.Capabilities.Add {
			if a != "NET_BIND_SERVICE" {
				return "securityContext.capabilities.add"
			}
		}
	}
	return "securityContext.capabilities.drop"
}

// hostProbeField points at the first probe or lifecycle handler that sets a host.
func hostProbeField(c *corev1.Container) string {
	probes := []struct {
		name string
		p    *corev1.Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}}
	for _, p := range probes {
		if p.p == nil {
			continue
		}
		if f := handlerHost(p.p.HTTPGet, p.p.TCPSocket); f != "" {
			return p.name + "." + f
		}
	}
	if l := c.Lifecycle; l != nil {
		for _, h := range []struct {
			name string
			h    *corev1.LifecycleHandler
		}{{"postStart", l.PostStart}, {"preStop", l.PreStop}} {
			if h.h == nil {
				continue
			}
			if f := handlerHost(h.h.HTTPGet, h.h.TCPSocket); f != "" {
				return "lifecycle." + h.name + "." + f
			}
		}
	}
	return ""
}

func handlerHost(h *corev1.HTTPGetAction, t *corev1.TCPSocketAction) string {
	if h != nil && h.Host != "" {
		return "httpGet.host"
	}
	if t != nil && t.Host != "" {
		return "tcpSocket.host"
	}
	return ""
}
