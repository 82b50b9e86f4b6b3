// Package exposure lists every way into a cluster — LoadBalancer and
// NodePort Services, externalIPs, hostPort and hostNetwork pods, Ingress
// rules, Gateway API listeners and their routes — with the addresses,
// ports and sources each opens, whether it is encrypted, the workloads it
// reaches and whether their NetworkPolicies let outside traffic in; and,
// for traffic inside the cluster, which service mesh (if any) encrypts it
// (mesh.go). It decides from objects only and prints nothing.
package exposure

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/rampart-k8s/rampart/pkg/finding"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/netpol"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// Entry kinds.
const (
	KindLoadBalancer = "LoadBalancer"
	KindNodePort     = "NodePort"
	KindExternalIP   = "ExternalIP"
	KindHostPort     = "HostPort"
	KindHostNetwork  = "HostNetwork"
	KindIngress      = "Ingress"
	KindGateway      = "Gateway"
)

// TLS values of an entry.
const (
	TLSNone        = "none"        // plaintext from the client
	TLSTerminated  = "terminated"  // the entry terminates TLS
	TLSPassthrough = "passthrough" // TLS goes through to the backend
	TLSUnknown     = "unknown"     // L4: whatever the workload speaks
)

// Entry is one way into the cluster.
type Entry struct {
	// ID is stable across runs and edits elsewhere: the diff and the
	// baseline key.
	ID     string            `json:"id"`
	Kind   string            `json:"kind"`
	Object finding.ObjectRef `json:"object"`
	Field  string            `json:"field"`
	Where  *finding.Location `json:"location,omitempty"`
	// Addresses are where it listens: load balancer addresses, node
	// addresses (live), external IPs, a hostIP; empty when unknown from
	// manifests ("every node" for node ports).
	Addresses []string `json:"addresses"`
	Port      int32    `json:"port"`
	Protocol  string   `json:"protocol"`
	// Sources are the client ranges allowed (loadBalancerSourceRanges);
	// 0.0.0.0/0 and ::/0 when nothing limits them.
	Sources []string `json:"sources"`
	Host    string   `json:"host,omitempty"`
	Path    string   `json:"path,omitempty"`
	TLS     string   `json:"tls"`
	// Backend is the Service and port an Ingress or route sends to.
	Backend string `json:"backend,omitempty"`
	// Redirect: the route only redirects to HTTPS (no plaintext served).
	Redirect bool     `json:"redirect,omitempty"`
	Targets  []Target `json:"targets"`
}

// Target is a workload an entry reaches, on which port, and what its
// NetworkPolicies say about traffic from outside the cluster.
type Target struct {
	Workload string `json:"workload"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
	// NetworkPolicy: "not isolated", "allowed by NS/NAME", or "denied
	// (isolated by NS/NAME, ...)"; for a proxied entry (Ingress,
	// Gateway) the question is asked for a pod of another namespace.
	NetworkPolicy string `json:"networkPolicy"`
	// Open is true when traffic from outside (or, proxied, from another
	// namespace) is allowed.
	Open bool `json:"open"`
}

// Inventory is what Analyze finds.
type Inventory struct {
	Entries []Entry `json:"entries"`
	// Workloads is the in-cluster encryption of each workload (mesh.go).
	Workloads []WorkloadEncryption `json:"workloads"`
	// Mesh names what encrypts in-cluster traffic: "istio", "linkerd",
	// "cilium-wireguard", "cilium-ipsec", or "" when nothing in the input
	// does (traffic is then "encryption unknown", never "encrypted").
	Mesh     []string          `json:"mesh"`
	Findings []finding.Finding `json:"findings"`
	// Notices are what could not be read (a route to a Gateway not in the
	// input, a Cilium rule with no Kubernetes equivalent).
	Notices []string `json:"notices,omitempty"`
	// Errors are invalid inputs left out (a NetworkPolicy the API server
	// would refuse), with their file and line.
	Errors []string `json:"errors,omitempty"`
}

// Options tune Analyze.
type Options struct {
	// NodeAddresses are the nodes' addresses (live), for node ports and
	// host ports; from Node objects in the input when empty.
	NodeAddresses []string
}

var world = []string{"0.0.0.0/0", "::/0"}

// workload is one pod-running object with its pod for the engine.
type workload struct {
	name string
	obj  *object.Object
	pod  *netpol.Pod
}

type analysis struct {
	inv       *inventory.Inventory
	engine    *netpol.Engine
	workloads []workload
	byNS      map[string][]workload
	nodes     []string
	out       *Inventory
	// nsSkipReported: namespaces whose Linkerd skip-ports were reported.
	nsSkipReported map[string]bool
}

// Analyze builds the inventory of entries and the findings.
func Analyze(inv *inventory.Inventory, opts Options) (*Inventory, error) {
	ws, pols, notices := netpol.Policies(inv)
	// An invalid policy (the API server would refuse it) is left out with
	// a notice naming it and its place; the rest is analysed.
	pols, bad, errs := netpol.Valid(pols)
	var inputErrors []string
	for i, np := range bad {
		o := inv.ObjectOf(np)
		if name, ok := strings.CutPrefix(np.Name, "CiliumNetworkPolicy:"); ok {
			o = inv.Find("CiliumNetworkPolicy", np.Namespace, strings.SplitN(name, "[", 2)[0])
		}
		where := ""
		if o != nil {
			where = at(o, "spec")
		}
		inputErrors = append(inputErrors, errs[i].Error()+where+": left out")
	}
	e, err := netpol.New(pols)
	if err != nil {
		return nil, err
	}
	a := &analysis{inv: inv, engine: e, byNS: map[string][]workload{}, nsSkipReported: map[string]bool{}, out: &Inventory{Entries: []Entry{}, Mesh: []string{}, Workloads: []WorkloadEncryption{}, Notices: notices, Errors: inputErrors}}
	byName := map[string]*netpol.Pod{}
	for _, w := range ws {
		byName[w.Name] = w.Pod
	}
	for _, ns := range inv.WorkloadNamespaces() {
		for _, o := range inv.Workloads(ns) {
			name := ns + "/" + o.Kind + "/" + o.Name
			p, ok := byName[name]
			if !ok {
				continue // a controller whose pods stand for it
			}
			delete(byName, name) // an object given twice is one workload
			w := workload{name: name, obj: o, pod: p}
			a.workloads = append(a.workloads, w)
			a.byNS[ns] = append(a.byNS[ns], w)
		}
	}
	a.nodes = opts.NodeAddresses
	if len(a.nodes) == 0 {
		a.nodes = nodeAddresses(inv)
	}
	a.services()
	a.hostPorts()
	a.ingresses()
	a.gateways()
	a.mesh()
	sort.SliceStable(a.out.Entries, func(i, j int) bool { return a.out.Entries[i].ID < a.out.Entries[j].ID })
	// IDs name what an entry is; two that still coincide (the same
	// object listed twice) are told apart by their order.
	for i := 1; i < len(a.out.Entries); i++ {
		if a.out.Entries[i].ID == a.out.Entries[i-1].ID {
			n := 2
			for j := i; j < len(a.out.Entries) && a.out.Entries[j].ID == a.out.Entries[i-1].ID; j++ {
				a.out.Entries[j].ID += fmt.Sprintf(" (%d)", n)
				n++
			}
		}
	}
	sort.Strings(a.out.Notices)
	a.out.Notices = slices.Compact(a.out.Notices)
	for _, en := range a.out.Entries {
		a.out.Findings = append(a.out.Findings, entryFinding(en)...)
	}
	sortFindings(a.out.Findings)
	return a.out, nil
}

func nodeAddresses(inv *inventory.Inventory) []string {
	var out []string
	for _, o := range inv.OfKind("Node") {
		n, ok := o.Typed.(*corev1.Node)
		if !ok {
			continue
		}
		for _, ad := range n.Status.Addresses {
			if ad.Type == corev1.NodeExternalIP || ad.Type == corev1.NodeInternalIP {
				out = append(out, ad.Address)
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func refOf(o *object.Object) finding.ObjectRef {
	return finding.ObjectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
}

func locate(o *object.Object, field string) *finding.Location {
	if o.File == "" {
		return nil
	}
	l := o.Locate(field)
	return &l
}

func proto(p corev1.Protocol) string {
	if p == "" {
		return string(corev1.ProtocolTCP)
	}
	return string(p)
}

// probe is an address outside the cluster inside sources (the engine
// decides ipBlock peers by address).
func probe(sources []string) netip.Addr {
	for _, s := range sources {
		if s == "0.0.0.0/0" {
			break
		}
		if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
			if p.IsSingleIP() {
				return p.Addr()
			}
			return p.Masked().Addr().Next()
		}
	}
	return netip.MustParseAddr("203.0.113.10")
}

// reach returns the workloads a Service selects, with the container port
// each of the Service's port maps to.
func (a *analysis) reach(svc *corev1.Service, sp corev1.ServicePort, from netpol.Endpoint, proxied bool) []Target {
	if len(svc.Spec.Selector) == 0 {
		return []Target{}
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var out []Target
	for _, w := range a.byNS[svc.Namespace] {
		if !sel.Matches(labels.Set(w.pod.Labels)) {
			continue
		}
		port := containerPort(w, sp.TargetPort, sp.Port)
		if port == 0 {
			continue // a named port the pod does not have: no endpoint
		}
		out = append(out, a.target(w, port, proto(sp.Protocol), from, proxied))
	}
	if out == nil {
		out = []Target{}
	}
	return out
}

func containerPort(w workload, target intstr.IntOrString, port int32) int32 {
	if target.Type == intstr.String {
		for _, p := range w.pod.Ports {
			if p.Name == target.StrVal {
				return p.ContainerPort
			}
		}
		return 0
	}
	if target.IntVal != 0 {
		return target.IntVal
	}
	return port
}

func (a *analysis) target(w workload, port int32, protocol string, from netpol.Endpoint, proxied bool) Target {
	t := Target{Workload: w.name, Port: port, Protocol: protocol}
	v := a.engine.Decide(from, netpol.Endpoint{Pod: w.pod}, netpol.Port{Protocol: corev1.Protocol(protocol), Number: port})
	in := v.Ingress
	switch {
	case !in.Isolated:
		t.NetworkPolicy, t.Open = "not isolated", true
	case in.Allowed:
		t.NetworkPolicy, t.Open = "allowed by "+in.Policy, true
	default:
		t.NetworkPolicy = "denied (isolated by " + strings.Join(in.Policies, ", ") + ")"
	}
	if proxied {
		t.NetworkPolicy = "from another namespace: " + t.NetworkPolicy
	}
	return t
}

// otherNamespace stands for an ingress or gateway controller's pod: a pod
// of a namespace no policy names.
var otherNamespace = netpol.Endpoint{Pod: &netpol.Pod{Namespace: "rampart-probe", NSLabels: map[string]string{"kubernetes.io/metadata.name": "rampart-probe"}, Labels: map[string]string{}}}

func (a *analysis) services() {
	for _, o := range a.inv.OfKind("Service") {
		svc, ok := o.Typed.(*corev1.Service)
		if !ok {
			continue
		}
		ref := refOf(o)
		ns := o.EffectiveNamespace()
		svc = svc.DeepCopy()
		svc.Namespace = ns
		lb := svc.Spec.Type == corev1.ServiceTypeLoadBalancer
		nodePorts := svc.Spec.Type == corev1.ServiceTypeNodePort || (lb && (svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts))
		sources := world
		if lb && len(svc.Spec.LoadBalancerSourceRanges) > 0 {
			sources = append([]string{}, svc.Spec.LoadBalancerSourceRanges...)
		} else if v := svc.Annotations[corev1.AnnotationLoadBalancerSourceRangesKey]; lb && strings.TrimSpace(v) != "" {
			sources = nil
			for _, r := range strings.Split(v, ",") {
				if r = strings.TrimSpace(r); r != "" {
					sources = append(sources, r)
				}
			}
		}
		var lbAddrs []string
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				lbAddrs = append(lbAddrs, in.IP)
			}
			if in.Hostname != "" {
				lbAddrs = append(lbAddrs, in.Hostname)
			}
		}
		if len(lbAddrs) == 0 && lb && svc.Spec.LoadBalancerIP != "" { //nolint:staticcheck // deprecated, still honoured by providers
			lbAddrs = []string{svc.Spec.LoadBalancerIP} //nolint:staticcheck // as above
		}
		for i, sp := range svc.Spec.Ports {
			p := proto(sp.Protocol)
			if lb {
				f := fmt.Sprintf("spec.ports[%d]", i)
				a.add(Entry{ID: fmt.Sprintf("LoadBalancer %s/%s %d/%s", ns, svc.Name, sp.Port, p), Kind: KindLoadBalancer, Object: ref, Field: f, Where: locate(o, f),
					Addresses: nonNil(lbAddrs), Port: sp.Port, Protocol: p, Sources: sources, TLS: TLSUnknown,
					Targets: a.reach(svc, sp, netpol.Endpoint{IP: probe(sources)}, false)})
			}
			if nodePorts {
				f := fmt.Sprintf("spec.ports[%d].nodePort", i)
				port := sp.NodePort
				id := fmt.Sprintf("NodePort %s/%s %d/%s", ns, svc.Name, port, p)
				if port == 0 {
					f = fmt.Sprintf("spec.ports[%d]", i)
					id = fmt.Sprintf("NodePort %s/%s port %d/%s (node port allocated)", ns, svc.Name, sp.Port, p)
				}
				a.add(Entry{ID: id, Kind: KindNodePort, Object: ref, Field: f, Where: locate(o, f),
					Addresses: nonNil(a.nodes), Port: port, Protocol: p, Sources: world, TLS: TLSUnknown,
					Targets: a.reach(svc, sp, netpol.Endpoint{IP: probe(world)}, false)})
			}
			for j, ip := range svc.Spec.ExternalIPs {
				f := fmt.Sprintf("spec.externalIPs[%d]", j)
				a.add(Entry{ID: fmt.Sprintf("ExternalIP %s/%s %s:%d/%s", ns, svc.Name, ip, sp.Port, p), Kind: KindExternalIP, Object: ref, Field: f, Where: locate(o, f),
					Addresses: []string{ip}, Port: sp.Port, Protocol: p, Sources: world, TLS: TLSUnknown,
					Targets: a.reach(svc, sp, netpol.Endpoint{IP: probe(world)}, false)})
			}
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (a *analysis) add(e Entry) {
	if e.Sources == nil {
		e.Sources = world
	}
	if e.Targets == nil {
		e.Targets = []Target{}
	}
	if e.Addresses == nil {
		e.Addresses = []string{}
	}
	a.out.Entries = append(a.out.Entries, e)
}

func (a *analysis) hostPorts() {
	for _, w := range a.workloads {
		spec := w.obj.Pod.Spec
		hostNet := spec.HostNetwork
		if hostNet && len(w.pod.Ports) == 0 {
			// Declared ports are documentation: a host-network pod listens
			// on the node on whatever its processes open.
			f := w.obj.Pod.SpecPath + ".hostNetwork"
			a.add(Entry{ID: fmt.Sprintf("HostNetwork %s (no port declared)", w.name), Kind: KindHostNetwork, Object: refOf(w.obj), Field: f, Where: locate(w.obj, f),
				Addresses: nonNil(a.nodes), Protocol: "TCP", Sources: world, TLS: TLSUnknown,
				Targets: []Target{{Workload: w.name, Protocol: "TCP", NetworkPolicy: "host network: NetworkPolicies do not apply", Open: true}}})
		}
		for _, c := range w.obj.Pod.Containers() {
			for pi, p := range c.Ports {
				switch {
				case hostNet:
					port := p.ContainerPort
					f := fmt.Sprintf("%s.ports[%d].containerPort", c.Path, pi)
					a.add(Entry{ID: fmt.Sprintf("HostNetwork %s %s %d/%s", w.name, c.Name, port, proto(p.Protocol)), Kind: KindHostNetwork, Object: refOf(w.obj), Field: f, Where: locate(w.obj, f),
						Addresses: nonNil(a.nodes), Port: port, Protocol: proto(p.Protocol), Sources: world, TLS: TLSUnknown,
						// The pod is the node's network: NetworkPolicies do not apply.
						Targets: []Target{{Workload: w.name, Port: port, Protocol: proto(p.Protocol), NetworkPolicy: "host network: NetworkPolicies do not apply", Open: true}}})
				case p.HostPort != 0:
					f := fmt.Sprintf("%s.ports[%d].hostPort", c.Path, pi)
					addrs := a.nodes
					if p.HostIP != "" {
						addrs = []string{p.HostIP}
					}
					a.add(Entry{ID: fmt.Sprintf("HostPort %s %s %d/%s", w.name, c.Name, p.HostPort, proto(p.Protocol)), Kind: KindHostPort, Object: refOf(w.obj), Field: f, Where: locate(w.obj, f),
						Addresses: nonNil(addrs), Port: p.HostPort, Protocol: proto(p.Protocol), Sources: world, TLS: TLSUnknown,
						Targets: []Target{a.target(w, p.ContainerPort, proto(p.Protocol), netpol.Endpoint{IP: probe(world)}, false)}})
				}
			}
		}
	}
}

// service finds a Service by namespace and name.
func (a *analysis) service(ns, name string) *corev1.Service {
	o := a.inv.Find("Service", ns, name)
	if o == nil && ns == "default" {
		o = a.inv.Find("Service", "", name)
	}
	if o == nil {
		return nil
	}
	svc, ok := o.Typed.(*corev1.Service)
	if !ok {
		return nil
	}
	svc = svc.DeepCopy()
	svc.Namespace = ns
	return svc
}

// servicePort finds the Service port a backend names (by number or name).
func servicePort(svc *corev1.Service, number int32, name string) (corev1.ServicePort, bool) {
	for _, sp := range svc.Spec.Ports {
		if (number != 0 && sp.Port == number) || (name != "" && sp.Name == name) {
			return sp, true
		}
	}
	return corev1.ServicePort{}, false
}

func (a *analysis) backendTargets(ns, name string, number int32, portName string) (string, []Target) {
	port := strconv.Itoa(int(number))
	if portName != "" {
		port = portName
	}
	backend := fmt.Sprintf("Service %s/%s:%s", ns, name, port)
	svc := a.service(ns, name)
	if svc == nil {
		a.out.Notices = append(a.out.Notices, fmt.Sprintf("%s is not in the input: its workloads are unknown", backend))
		return backend, []Target{}
	}
	sp, ok := servicePort(svc, number, portName)
	if !ok {
		return backend + " (no such port)", []Target{}
	}
	return backend, a.reach(svc, sp, otherNamespace, true)
}

func (a *analysis) ingresses() {
	for _, o := range a.inv.OfKind("Ingress") {
		ing, ok := o.Typed.(*networkingv1.Ingress)
		if !ok {
			continue
		}
		ns := o.EffectiveNamespace()
		tlsHosts := map[string]bool{}
		for _, t := range ing.Spec.TLS {
			for _, h := range t.Hosts {
				tlsHosts[h] = true
			}
		}
		var addrs []string
		for _, in := range ing.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				addrs = append(addrs, in.IP)
			}
			if in.Hostname != "" {
				addrs = append(addrs, in.Hostname)
			}
		}
		add := func(field, host, path, pathType string, b *networkingv1.IngressBackend) {
			if b == nil || b.Service == nil {
				return
			}
			tls := TLSNone
			port := int32(80)
			if tlsCovers(tlsHosts, host) || (host == "" && len(ing.Spec.TLS) > 0 && len(ing.Spec.TLS[0].Hosts) == 0) {
				tls, port = TLSTerminated, 443
			}
			backend, targets := a.backendTargets(ns, b.Service.Name, b.Service.Port.Number, b.Service.Port.Name)
			h := host
			if h == "" {
				h = "*"
			}
			a.add(Entry{ID: fmt.Sprintf("Ingress %s/%s %s%s%s -> %s", ns, ing.Name, h, path, pathType, backend), Kind: KindIngress, Object: refOf(o), Field: field, Where: locate(o, field),
				Addresses: nonNil(addrs), Port: port, Protocol: "TCP", Sources: world, Host: host, Path: path, TLS: tls, Backend: backend, Targets: targets})
		}
		add("spec.defaultBackend", "", "", " (default backend)", ing.Spec.DefaultBackend)
		for i, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for j, p := range r.HTTP.Paths {
				path := p.Path
				if path == "" {
					path = "/"
				}
				b := p.Backend
				pt := ""
				if p.PathType != nil && *p.PathType != networkingv1.PathTypePrefix {
					pt = " (" + string(*p.PathType) + ")"
				}
				add(fmt.Sprintf("spec.rules[%d].http.paths[%d]", i, j), r.Host, path, pt, &b)
			}
		}
	}
}

// tlsCovers reports whether an Ingress's spec.tls hosts cover host,
// wildcards included (*.example.com covers www.example.com).
func tlsCovers(tlsHosts map[string]bool, host string) bool {
	if tlsHosts[host] {
		return true
	}
	if i := strings.IndexByte(host, '.'); i > 0 && tlsHosts["*"+host[i:]] {
		return true
	}
	return false
}

func sortFindings(fs []finding.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Object.String() != b.Object.String() {
			return a.Object.String() < b.Object.String()
		}
		if a.CheckID != b.CheckID {
			return a.CheckID < b.CheckID
		}
		return a.Field < b.Field
	})
}

// at is " (FILE:LINE)" for a field of an object read from a file, for
// notices.
func at(o *object.Object, field string) string {
	if l := locate(o, field); l != nil {
		return " (" + l.String() + ")"
	}
	return ""
}
