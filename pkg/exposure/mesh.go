package exposure

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rampart-k8s/rampart/pkg/finding"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// WorkloadEncryption is how traffic inside the cluster reaches a workload.
type WorkloadEncryption struct {
	Workload string `json:"workload"`
	// Encryption: "mTLS (istio STRICT)", "plaintext accepted (istio
	// PERMISSIVE)", "plaintext (istio DISABLE)", "mTLS (linkerd)",
	// "node-to-node (cilium wireguard)", "plaintext (not in the mesh)", or
	// "unknown (no mesh in the input)".
	Encryption string `json:"encryption"`
	// DecidedBy names the PeerAuthentication that decides, and at which
	// level, or Istio's default.
	DecidedBy string `json:"decidedBy,omitempty"`
	// Ports lists ports whose mode differs from the workload's.
	Ports map[string]string `json:"ports,omitempty"`
}

// IstioRootNamespace is where mesh-wide PeerAuthentications live (Istio's
// default rootNamespace).
const IstioRootNamespace = "istio-system"

// Istio's mTLS modes.
const (
	ModeUnset      = "UNSET"
	ModeStrict     = "STRICT"
	ModePermissive = "PERMISSIVE"
	ModeDisable    = "DISABLE"
)

// PeerAuthentication is the part of an Istio PeerAuthentication the
// precedence reads (istio.io/api's security/v1 PeerAuthentication; the
// protobuf module is not imported for six fields).
type PeerAuthentication struct {
	Namespace string
	Name      string
	// Selector is nil for a namespace-wide (or, in the root namespace,
	// mesh-wide) policy.
	Selector map[string]string
	Mode     string
	// PortModes are portLevelMtls, by workload port.
	PortModes map[int32]string
	// Created orders policies of one level: the oldest wins; then the
	// name (older).
	Created time.Time

	obj *object.Object
}

type peerAuthenticationSpec struct {
	Selector *struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	Mtls *struct {
		Mode string `json:"mode"`
	} `json:"mtls"`
	PortLevelMtls map[string]struct {
		Mode string `json:"mode"`
	} `json:"portLevelMtls"`
}

// older orders policies of one level as Istio does: by creation time
// (none, as in manifests, counts as the earliest), then by name, then by
// namespace.
func older(a, b *PeerAuthentication) bool {
	switch {
	case !a.Created.Equal(b.Created):
		return a.Created.Before(b.Created)
	case a.Name != b.Name:
		return a.Name < b.Name
	}
	return a.Namespace < b.Namespace
}

// Decision is the effective mTLS mode of a workload's port, and the policy
// and level that decide it.
type Decision struct {
	Mode   string
	Policy *PeerAuthentication // nil: Istio's default
	Level  string              // "port", "workload", "namespace", "mesh", "default"
}

func (d Decision) String() string {
	if d.Policy == nil {
		return "no PeerAuthentication applies: Istio's default, PERMISSIVE"
	}
	return fmt.Sprintf("PeerAuthentication %s/%s (%s level)", d.Policy.Namespace, d.Policy.Name, d.Level)
}

func known(mode string) bool { return mode != "" && mode != ModeUnset }

// Effective applies Istio's precedence for a workload (namespace ns,
// labels) on port: a workload policy (one whose selector matches; the
// oldest when several do) over the namespace's policy over the mesh-wide
// one in root, the oldest at each level; a port-level mode over its
// policy's mode; UNSET inherits from the level above; no policy at all
// means PERMISSIVE.
func Effective(pols []*PeerAuthentication, root, ns string, lbls map[string]string, port int32) Decision {
	var workload, namespace, mesh *PeerAuthentication
	for _, p := range pols {
		switch {
		case p.Namespace == ns && p.Selector != nil:
			if labels.SelectorFromSet(p.Selector).Matches(labels.Set(lbls)) && (workload == nil || older(p, workload)) {
				workload = p
			}
		case p.Namespace == ns && p.Selector == nil && ns != root:
			if namespace == nil || older(p, namespace) {
				namespace = p
			}
		case p.Namespace == root && p.Selector == nil:
			if mesh == nil || older(p, mesh) {
				mesh = p
			}
		}
	}
	if workload != nil {
		if m, ok := workload.PortModes[port]; ok && known(m) {
			return Decision{Mode: m, Policy: workload, Level: "port"}
		}
		if known(workload.Mode) {
			return Decision{Mode: workload.Mode, Policy: workload, Level: "workload"}
		}
	}
	if namespace != nil && known(namespace.Mode) {
		return Decision{Mode: namespace.Mode, Policy: namespace, Level: "namespace"}
	}
	if mesh != nil && known(mesh.Mode) {
		return Decision{Mode: mesh.Mode, Policy: mesh, Level: "mesh"}
	}
	return Decision{Mode: ModePermissive, Level: "default"}
}

func (a *analysis) peerAuthentications() []*PeerAuthentication {
	var out []*PeerAuthentication
	for _, o := range a.inv.OfKind("PeerAuthentication") {
		if !strings.HasPrefix(o.APIVersion, "security.istio.io/") {
			continue
		}
		var spec peerAuthenticationSpec
		decode(o, "spec", &spec)
		p := &PeerAuthentication{Namespace: o.EffectiveNamespace(), Name: o.Name, obj: o}
		if spec.Selector != nil && len(spec.Selector.MatchLabels) > 0 {
			// An empty selector selects like none: namespace or mesh level.
			p.Selector = spec.Selector.MatchLabels
		}
		if spec.Mtls != nil {
			p.Mode = strings.ToUpper(spec.Mtls.Mode)
		}
		for k, v := range spec.PortLevelMtls {
			if n, err := strconv.ParseInt(k, 10, 32); err == nil {
				if p.PortModes == nil {
					p.PortModes = map[int32]string{}
				}
				p.PortModes[int32(n)] = strings.ToUpper(v.Mode)
			}
		}
		var ts string
		if decode(o, "metadata.creationTimestamp", &ts) {
			p.Created, _ = time.Parse(time.RFC3339, ts)
		}
		out = append(out, p)
	}
	return out
}

func truthy(s string) bool { return s == "true" || s == "enabled" }

// istioEnrolled: sidecar injection (namespace label istio-injection or
// istio.io/rev, pod label or annotation sidecar.istio.io/inject) or the
// ambient data plane (istio.io/dataplane-mode=ambient on the namespace or
// the pod).
func istioEnrolled(w workload, ns *corev1.Namespace) bool {
	if w.obj.Pod.Spec.HostNetwork {
		return false // the injector leaves host-network pods alone
	}
	podLabels := w.pod.Labels
	var podAnn map[string]string
	if w.obj.Pod.Meta != nil {
		podAnn = w.obj.Pod.Meta.Annotations
	}
	for _, v := range []string{podLabels["sidecar.istio.io/inject"], podAnn["sidecar.istio.io/inject"]} {
		switch v {
		case "true":
			return true
		case "false":
			return false
		}
	}
	for _, c := range w.obj.Pod.Spec.Containers {
		if c.Name == "istio-proxy" {
			return true // injected already (istioctl kube-inject)
		}
	}
	if podLabels["istio.io/dataplane-mode"] == "ambient" {
		return true
	}
	if podLabels["istio.io/dataplane-mode"] == "none" {
		return false
	}
	if ns == nil {
		return false
	}
	// The injector's namespace selectors: istio-injection=enabled, or a
	// revision label where istio-injection is not set at all.
	_, injectionSet := ns.Labels["istio-injection"]
	return ns.Labels["istio-injection"] == "enabled" || (ns.Labels["istio.io/rev"] != "" && !injectionSet) || ns.Labels["istio.io/dataplane-mode"] == "ambient"
}

// istioGateway reports an Istio ingress or egress gateway: PeerAuthentication
// configures sidecars' and ztunnel's inbound traffic, not gateways'.
func istioGateway(w workload) bool {
	l := w.pod.Labels
	if l["istio.io/gateway-name"] != "" || l["istio"] == "ingressgateway" || l["istio"] == "egressgateway" {
		return true
	}
	return w.obj.Pod.Meta != nil && strings.Contains(w.obj.Pod.Meta.Annotations["inject.istio.io/templates"], "gateway")
}

func linkerdEnrolled(w workload, ns *corev1.Namespace) bool {
	for _, c := range w.obj.Pod.Spec.Containers {
		if c.Name == "linkerd-proxy" {
			return true // injected already (linkerd inject --manual)
		}
	}
	if w.obj.Pod.Meta != nil {
		switch w.obj.Pod.Meta.Annotations["linkerd.io/inject"] {
		case "enabled", "ingress":
			return true
		case "disabled":
			return false
		}
	}
	return ns != nil && ns.Annotations["linkerd.io/inject"] == "enabled"
}

func (a *analysis) namespace(name string) *corev1.Namespace {
	ns, _ := a.inv.Namespace(name)
	return ns
}

// mesh decides the in-cluster encryption of every workload and reports
// the mesh settings that leave traffic in plaintext.
func (a *analysis) mesh() {
	pols := a.peerAuthentications()
	istio := len(pols) > 0 || len(a.inv.OfKind("DestinationRule")) > 0
	linkerd := false
	for _, w := range a.workloads {
		ns := a.namespace(w.pod.Namespace)
		istio = istio || istioEnrolled(w, ns)
		linkerd = linkerd || linkerdEnrolled(w, ns)
	}
	cilium := a.cilium()
	if istio {
		a.out.Mesh = append(a.out.Mesh, "istio")
	}
	if linkerd {
		a.out.Mesh = append(a.out.Mesh, "linkerd")
	}
	if cilium != "" {
		a.out.Mesh = append(a.out.Mesh, cilium)
	}
	a.destinationRules()
	for _, w := range a.workloads {
		ns := a.namespace(w.pod.Namespace)
		we := WorkloadEncryption{Workload: w.name}
		ref := refOf(w.obj)
		metaField := w.obj.Pod.MetaPath
		loc := locate(w.obj, metaField)
		switch {
		case istio && istioGateway(w):
			we.Encryption = "istio gateway (its listeners' TLS, not PeerAuthentication)"
		case istio && istioEnrolled(w, ns):
			d := Effective(pols, IstioRootNamespace, w.pod.Namespace, w.pod.Labels, 0)
			we.Encryption, we.DecidedBy = modeText(d.Mode), d.String()
			ports := map[string]string{}
			for _, p := range w.pod.Ports {
				pd := Effective(pols, IstioRootNamespace, w.pod.Namespace, w.pod.Labels, p.ContainerPort)
				if pd.Mode != d.Mode {
					ports[strconv.Itoa(int(p.ContainerPort))] = modeText(pd.Mode) + " by " + pd.String()
					a.modeFinding(w, ref, pd, p.ContainerPort)
				}
			}
			if len(ports) > 0 {
				we.Ports = ports
			}
			a.modeFinding(w, ref, d, 0)
		case linkerd && linkerdEnrolled(w, ns):
			we.Encryption = "mTLS (linkerd)"
			a.skipPorts(w, ns)
		case (istio || linkerd) && ns == nil && !optedOut(w):
			// Enrolment is the Namespace's labels, and it is not in the input.
			we.Encryption = "unknown (its Namespace is not in the input)"
		case istio || linkerd:
			we.Encryption = "plaintext (not in the mesh)"
			mesh := "istio"
			if !istio {
				mesh = "linkerd"
			}
			if cilium != "" {
				we.Encryption = "node-to-node only (" + cilium + "), not in the mesh"
			}
			a.out.Findings = append(a.out.Findings, newFinding(CheckNotEnrolled, ref, metaField, loc,
				fmt.Sprintf("%s is not in the %s mesh: traffic to it is not mutually authenticated%s", w.name, mesh, map[bool]string{true: "", false: " and travels in plaintext"}[cilium != ""])))
		case cilium != "":
			we.Encryption = "node-to-node (" + cilium + ")"
		default:
			we.Encryption = "unknown (no mesh or transparent encryption in the input)"
		}
		a.out.Workloads = append(a.out.Workloads, we)
	}
	sort.Slice(a.out.Workloads, func(i, j int) bool { return a.out.Workloads[i].Workload < a.out.Workloads[j].Workload })
}

func modeText(m string) string {
	switch m {
	case ModeStrict:
		return "mTLS (istio STRICT)"
	case ModeDisable:
		return "plaintext (istio DISABLE)"
	}
	return "plaintext accepted (istio " + m + ")"
}

// modeFinding reports a PERMISSIVE or DISABLE decision, on the policy
// that decides it (or the workload, for Istio's default).
func (a *analysis) modeFinding(w workload, ref finding.ObjectRef, d Decision, portNum int32) {
	port := ""
	if portNum != 0 {
		port = fmt.Sprintf(" on port %d", portNum)
	}
	var c Check
	switch d.Mode {
	case ModePermissive:
		c = CheckMTLSPermissive
	case ModeDisable:
		c = CheckMTLSDisabled
	default:
		return
	}
	msg := fmt.Sprintf("%s accepts plaintext%s: %s", w.name, port, d.String())
	if d.Mode == ModeDisable {
		msg = fmt.Sprintf("%s gets plaintext%s: %s sets DISABLE", w.name, port, d.String())
	} else if d.Policy != nil {
		msg += " sets PERMISSIVE"
	}
	// The finding is the workload's (one per workload, or per port when a
	// port differs); its location is the policy's mode, where it is fixed.
	field := w.obj.Pod.MetaPath
	if portNum != 0 {
		field = portPath(w, portNum)
	}
	loc := locate(w.obj, field)
	f := newFinding(c, ref, field, loc, msg)
	if d.Policy != nil {
		pf := "spec.mtls.mode"
		if d.Level == "port" {
			pf = "spec.portLevelMtls"
		}
		if l := locate(d.Policy.obj, pf); l != nil {
			f.Location = l
			if loc != nil {
				f.Related = []finding.Location{*loc}
			}
		}
	}
	a.out.Findings = append(a.out.Findings, f)
}

func (a *analysis) skipPorts(w workload, ns *corev1.Namespace) {
	check := func(ann map[string]string, o *object.Object, base, what string) {
		for _, k := range []string{"config.linkerd.io/skip-inbound-ports", "config.linkerd.io/skip-outbound-ports"} {
			if v := ann[k]; v != "" {
				field := base + ".annotations." + k
				a.out.Findings = append(a.out.Findings, newFinding(CheckLinkerdSkipPorts, refOf(o), field, locate(o, field),
					fmt.Sprintf("%s: %s skips the proxy for ports %s: that traffic has no mTLS", what, k, v)))
			}
		}
	}
	if w.obj.Pod.Meta != nil {
		check(w.obj.Pod.Meta.Annotations, w.obj, w.obj.Pod.MetaPath, w.name)
	}
	if ns != nil {
		if o := a.inv.Find("Namespace", "", ns.Name); o != nil && !a.nsSkipReported[ns.Name] {
			a.nsSkipReported[ns.Name] = true
			check(ns.Annotations, o, "metadata", "Namespace "+ns.Name+" (its meshed workloads)")
		}
	}
}

// optedOut: the pod itself says it is not in the mesh.
func optedOut(w workload) bool {
	if w.pod.Labels["sidecar.istio.io/inject"] == "false" {
		return true
	}
	if w.obj.Pod.Meta == nil {
		return false
	}
	a := w.obj.Pod.Meta.Annotations
	return a["sidecar.istio.io/inject"] == "false" || a["linkerd.io/inject"] == "disabled"
}

type destinationRuleSpec struct {
	Host          string         `json:"host"`
	TrafficPolicy *trafficPolicy `json:"trafficPolicy"`
	Subsets       []struct {
		Name          string         `json:"name"`
		TrafficPolicy *trafficPolicy `json:"trafficPolicy"`
	} `json:"subsets"`
}

type trafficPolicy struct {
	TLS *struct {
		Mode string `json:"mode"`
	} `json:"tls"`
	PortLevelSettings []struct {
		Port *struct {
			Number int32 `json:"number"`
		} `json:"port"`
		TLS *struct {
			Mode string `json:"mode"`
		} `json:"tls"`
	} `json:"portLevelSettings"`
}

func (a *analysis) destinationRules() {
	for _, o := range a.inv.OfKind("DestinationRule") {
		if !strings.HasPrefix(o.APIVersion, "networking.istio.io/") {
			continue
		}
		var spec destinationRuleSpec
		if !decode(o, "spec", &spec) {
			continue
		}
		a.trafficPolicy(o, spec.Host, "spec.trafficPolicy", "", spec.TrafficPolicy)
		for i, sub := range spec.Subsets {
			a.trafficPolicy(o, spec.Host, fmt.Sprintf("spec.subsets[%d].trafficPolicy", i), " (subset "+sub.Name+")", sub.TrafficPolicy)
		}
	}
}

func (a *analysis) trafficPolicy(o *object.Object, host, base, subset string, tp *trafficPolicy) {
	if tp == nil {
		return
	}
	if tp.TLS != nil && strings.EqualFold(tp.TLS.Mode, "DISABLE") {
		f := base + ".tls.mode"
		a.out.Findings = append(a.out.Findings, newFinding(CheckDestinationRuleTLS, refOf(o), f, locate(o, f),
			fmt.Sprintf("clients of %s%s send plaintext: tls.mode is DISABLE", host, subset)))
	}
	for i, pl := range tp.PortLevelSettings {
		if pl.TLS != nil && strings.EqualFold(pl.TLS.Mode, "DISABLE") {
			f := fmt.Sprintf("%s.portLevelSettings[%d].tls.mode", base, i)
			port := int32(0)
			if pl.Port != nil {
				port = pl.Port.Number
			}
			a.out.Findings = append(a.out.Findings, newFinding(CheckDestinationRuleTLS, refOf(o), f, locate(o, f),
				fmt.Sprintf("clients of %s%s port %d send plaintext: tls.mode is DISABLE", host, subset, port)))
		}
	}
}

// cilium reads the cilium-config ConfigMap: "cilium-wireguard" or
// "cilium-ipsec" when transparent encryption is on, "" otherwise (with a
// finding when the ConfigMap is in the input and says off).
func (a *analysis) cilium() string {
	for _, o := range a.inv.OfKind("ConfigMap") {
		cm, ok := o.Typed.(*corev1.ConfigMap)
		if !ok || cm.Name != "cilium-config" {
			continue
		}
		switch {
		case cm.Data["enable-wireguard"] == "true":
			return "cilium-wireguard"
		case cm.Data["enable-ipsec"] == "true":
			return "cilium-ipsec"
		}
		f := "data"
		if _, ok := cm.Data["enable-wireguard"]; ok {
			f = "data.enable-wireguard"
		}
		a.out.Findings = append(a.out.Findings, newFinding(CheckCiliumEncryption, refOf(o), f, locate(o, f),
			"Cilium's transparent encryption is off (neither enable-wireguard nor enable-ipsec is \"true\"): pod traffic between nodes is plaintext"))
	}
	return ""
}

// portPath is the field path of the container port numbered port.
func portPath(w workload, port int32) string {
	for _, c := range w.obj.Pod.Containers() {
		for i, p := range c.Ports {
			if p.ContainerPort == port {
				return fmt.Sprintf("%s.ports[%d]", c.Path, i)
			}
		}
	}
	return w.obj.Pod.SpecPath
}
