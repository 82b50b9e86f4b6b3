package exposure

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/rampart-k8s/rampart/pkg/object"
)

func decode(o *object.Object, path string, out any) bool { return o.DecodeJSON(path, out) }

// route is what the entries need of an HTTPRoute, GRPCRoute, TLSRoute or
// TCPRoute.
type route struct {
	obj       *object.Object
	kind      string
	parents   []gwv1.ParentReference
	hostnames []string
	rules     []routeRule
}

type routeRule struct {
	field    string
	paths    []string
	backends []gwv1.BackendObjectReference
	// redirect is the scheme an HTTPRoute rule's RequestRedirect filter
	// sends to ("https", or "" for none).
	redirect string
}

func (a *analysis) routes() []route {
	var out []route
	for _, kind := range []string{"HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"} {
		for _, o := range a.inv.OfKind(kind) {
			if !strings.HasPrefix(o.APIVersion, gwv1.GroupName+"/") {
				continue
			}
			r := route{obj: o, kind: kind}
			if !r.read() {
				a.out.Notices = append(a.out.Notices, fmt.Sprintf("%s %s/%s%s: its spec could not be read", kind, o.EffectiveNamespace(), o.Name, at(o, "spec")))
				continue
			}
			out = append(out, r)
		}
	}
	return out
}

// read decodes the route's spec; false when it does not fit the type.
func (r *route) read() bool {
	o, kind := r.obj, r.kind
	switch kind {
	case "HTTPRoute":
		var s gwv1.HTTPRouteSpec
		if !decode(o, "spec", &s) {
			return false
		}
		r.parents, r.hostnames = s.ParentRefs, hostnames(s.Hostnames)
		for i, rule := range s.Rules {
			rr := routeRule{field: fmt.Sprintf("spec.rules[%d]", i)}
			for _, m := range rule.Matches {
				if m.Path != nil && m.Path.Value != nil {
					rr.paths = append(rr.paths, *m.Path.Value)
				}
			}
			for _, f := range rule.Filters {
				if f.Type == gwv1.HTTPRouteFilterRequestRedirect && f.RequestRedirect != nil {
					rr.redirect = "redirect"
					if f.RequestRedirect.Scheme != nil {
						rr.redirect = *f.RequestRedirect.Scheme
					}
				}
			}
			for _, b := range rule.BackendRefs {
				rr.backends = append(rr.backends, b.BackendObjectReference)
			}
			r.rules = append(r.rules, rr)
		}
	case "GRPCRoute":
		var s gwv1.GRPCRouteSpec
		if !decode(o, "spec", &s) {
			return false
		}
		r.parents, r.hostnames = s.ParentRefs, hostnames(s.Hostnames)
		for i, rule := range s.Rules {
			rr := routeRule{field: fmt.Sprintf("spec.rules[%d]", i)}
			for _, m := range rule.Matches {
				if m.Method != nil && m.Method.Service != nil {
					p := "/" + *m.Method.Service
					if m.Method.Method != nil {
						p += "/" + *m.Method.Method
					}
					rr.paths = append(rr.paths, p)
				}
			}
			for _, b := range rule.BackendRefs {
				rr.backends = append(rr.backends, b.BackendObjectReference)
			}
			r.rules = append(r.rules, rr)
		}
	case "TLSRoute":
		var s gwv1.TLSRouteSpec
		if !decode(o, "spec", &s) {
			return false
		}
		r.parents, r.hostnames = s.ParentRefs, hostnames(s.Hostnames)
		r.rules = l4Rules(s.Rules, func(x gwv1.TLSRouteRule) []gwv1.BackendRef { return x.BackendRefs })
	case "UDPRoute":
		var s gwv1.UDPRouteSpec
		if !decode(o, "spec", &s) {
			return false
		}
		r.parents = s.ParentRefs
		r.rules = l4Rules(s.Rules, func(x gwv1.UDPRouteRule) []gwv1.BackendRef { return x.BackendRefs })
	case "TCPRoute":
		var s gwv1.TCPRouteSpec
		if !decode(o, "spec", &s) {
			return false
		}
		r.parents = s.ParentRefs
		r.rules = l4Rules(s.Rules, func(x gwv1.TCPRouteRule) []gwv1.BackendRef { return x.BackendRefs })
	}
	return true
}

// l4Rules reads the rules of a route that matches nothing but its
// parents (TLSRoute, TCPRoute, UDPRoute): their backends.
func l4Rules[R any](rules []R, refs func(R) []gwv1.BackendRef) []routeRule {
	out := make([]routeRule, 0, len(rules))
	for i, rule := range rules {
		rr := routeRule{field: fmt.Sprintf("spec.rules[%d]", i)}
		for _, b := range refs(rule) {
			rr.backends = append(rr.backends, b.BackendObjectReference)
		}
		out = append(out, rr)
	}
	return out
}

func hostnames[T ~string](hs []T) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = string(h)
	}
	return out
}

// routeKinds says which route kinds a listener protocol carries.
var routeKinds = map[gwv1.ProtocolType][]string{
	gwv1.HTTPProtocolType:  {"HTTPRoute", "GRPCRoute"},
	gwv1.HTTPSProtocolType: {"HTTPRoute", "GRPCRoute"},
	gwv1.TLSProtocolType:   {"TLSRoute", "TCPRoute"},
	gwv1.TCPProtocolType:   {"TCPRoute"},
	gwv1.UDPProtocolType:   {"UDPRoute"},
}

// gateways adds an entry per listener and route rule attached to it: a
// route attaches through a parentRef naming the Gateway (and the listener
// by sectionName or port, when given), of a kind the listener carries and
// allows, from a namespace it allows, with a hostname that intersects the
// listener's (Gateway API's attachment rules).
func (a *analysis) gateways() {
	routes := a.routes()
	attached := map[*object.Object]bool{}
	for _, o := range a.inv.OfKind("Gateway") {
		if !strings.HasPrefix(o.APIVersion, gwv1.GroupName+"/") {
			continue
		}
		var spec gwv1.GatewaySpec
		if !decode(o, "spec", &spec) {
			a.out.Notices = append(a.out.Notices, fmt.Sprintf("Gateway %s/%s%s: its spec could not be read", o.EffectiveNamespace(), o.Name, at(o, "spec")))
			continue
		}
		var status gwv1.GatewayStatus
		decode(o, "status", &status)
		var addrs []string
		for _, ad := range status.Addresses {
			addrs = append(addrs, ad.Value)
		}
		if len(addrs) == 0 {
			for _, ad := range spec.Addresses {
				addrs = append(addrs, ad.Value)
			}
		}
		ns := o.EffectiveNamespace()
		for li, l := range spec.Listeners {
			lf := fmt.Sprintf("spec.listeners[%d]", li)
			tls := listenerTLS(l)
			proto := "TCP"
			if l.Protocol == gwv1.UDPProtocolType {
				proto = "UDP"
			}
			host := ""
			if l.Hostname != nil {
				host = string(*l.Hostname)
			}
			any := false
			for _, r := range routes {
				if !carries(l.Protocol, r.kind) || !a.attaches(r, o, ns, l) {
					continue
				}
				rns := r.obj.EffectiveNamespace()
				hosts := routeHosts(host, r.hostnames)
				if len(hosts) == 0 {
					continue // no hostname in common: not accepted here
				}
				attached[r.obj] = true
				for _, rr := range r.rules {
					paths := rr.paths
					if len(paths) == 0 {
						paths = []string{""}
					}
					type backend struct {
						text    string
						targets []Target
						ns      string
						name    string
						port    int32
					}
					var backends []backend
					for bi, b := range rr.backends {
						if (b.Kind != nil && *b.Kind != "Service") || (b.Group != nil && *b.Group != "") {
							continue
						}
						bns := rns
						if b.Namespace != nil {
							bns = string(*b.Namespace)
						}
						var port int32
						if b.Port != nil {
							port = int32(*b.Port)
						}
						if bns != rns && !a.referenceGrant(r.kind, rns, bns, string(b.Name)) {
							a.out.Notices = append(a.out.Notices, fmt.Sprintf("%s %s/%s %s.backendRefs[%d]: Service %s/%s is in another namespace and no ReferenceGrant there allows it: the backend is refused", r.kind, rns, r.obj.Name, rr.field, bi, bns, b.Name))
							continue
						}
						text, targets := a.backendTargets(bns, string(b.Name), port, "")
						backends = append(backends, backend{text, targets, bns, string(b.Name), port})
					}
					if len(backends) == 0 {
						what := "(no backend)"
						if rr.redirect != "" {
							what = "(redirect to " + rr.redirect + ")"
						}
						backends = []backend{{text: what, targets: []Target{}}}
					}
					for _, bk := range backends {
						for _, h := range hosts {
							for _, p := range paths {
								any = true
								id := fmt.Sprintf("Gateway %s/%s %s %d %s %s/%s %s %s%s -> %s", ns, o.Name, l.Name, l.Port, r.kind, rns, r.obj.Name, rr.field, hostOr(h), p, bk.text)
								e := Entry{ID: id, Kind: KindGateway, Object: refOf(o), Field: lf, Where: locate(o, lf),
									Addresses: nonNil(addrs), Port: int32(l.Port), Protocol: proto, Sources: world, Host: h, Path: p, TLS: tls,
									Backend: fmt.Sprintf("%s %s/%s %s -> %s", r.kind, rns, r.obj.Name, rr.field, bk.text), Targets: bk.targets}
								if rr.redirect == "https" {
									e.Redirect = true
								}
								a.add(e)
							}
						}
						if tls == TLSPassthrough && bk.name != "" {
							a.passthrough(o, lf, bk.ns, bk.name, bk.port)
						}
					}
				}
			}
			if !any {
				a.add(Entry{ID: fmt.Sprintf("Gateway %s/%s %s %d (no route)", ns, o.Name, l.Name, l.Port), Kind: KindGateway, Object: refOf(o), Field: lf, Where: locate(o, lf),
					Addresses: nonNil(addrs), Port: int32(l.Port), Protocol: proto, Sources: world, Host: host, TLS: tls})
			}
		}
	}
	for _, r := range routes {
		if attached[r.obj] {
			continue
		}
		if serviceParents(r) {
			continue // a mesh (GAMMA) route: east-west, not an entry point
		}
		a.out.Notices = append(a.out.Notices, fmt.Sprintf("%s %s/%s%s attaches to no Gateway listener in the input", r.kind, r.obj.EffectiveNamespace(), r.obj.Name, at(r.obj, "spec.parentRefs")))
	}
}

// listenerTLS: HTTPS terminates; TLS terminates unless its mode is
// Passthrough (the field defaults to Terminate); HTTP is plaintext; TCP and
// UDP carry whatever the backend speaks.
func listenerTLS(l gwv1.Listener) string {
	passthrough := l.TLS != nil && l.TLS.Mode != nil && *l.TLS.Mode == gwv1.TLSModePassthrough
	switch l.Protocol {
	case gwv1.HTTPSProtocolType, gwv1.TLSProtocolType:
		if passthrough {
			return TLSPassthrough
		}
		return TLSTerminated
	case gwv1.HTTPProtocolType:
		return TLSNone
	}
	return TLSUnknown
}

// routeHosts intersects a listener's hostname with a route's hostnames as
// the Gateway API does: no hostname on either side matches all; a wildcard
// (*.example.com) matches names with more labels under it; a route
// hostname that matches nothing of the listener's is ignored, and a route
// left with none is not accepted there. It returns the hostnames the
// entries serve.
func routeHosts(listener string, route []string) []string {
	if len(route) == 0 {
		return []string{listener}
	}
	var out []string
	for _, h := range route {
		if m, ok := intersect(listener, h); ok {
			out = append(out, m)
		}
	}
	return out
}

func intersect(l, h string) (string, bool) {
	switch {
	case l == "" || l == h:
		return h, true
	case under(h, l):
		return h, true // the route's name is more specific
	case under(l, h):
		return l, true // the listener's is
	}
	return "", false
}

// under reports whether name is matched by the wildcard pattern
// (*.example.com matches a.example.com and *.a.example.com, not
// example.com).
func under(name, pattern string) bool {
	suffix, ok := strings.CutPrefix(pattern, "*")
	if !ok {
		return false
	}
	n := strings.TrimPrefix(name, "*")
	return strings.HasSuffix(n, suffix) && len(strings.TrimSuffix(n, suffix)) > 0
}

func serviceParents(r route) bool {
	if len(r.parents) == 0 {
		return false
	}
	for _, p := range r.parents {
		if p.Kind == nil || *p.Kind != "Service" {
			return false
		}
	}
	return true
}

// referenceGrant reports whether a ReferenceGrant in the backend's
// namespace lets a route of kind in fromNS refer to the Service name.
func (a *analysis) referenceGrant(kind, fromNS, toNS, name string) bool {
	for _, o := range a.inv.OfKind("ReferenceGrant") {
		if !strings.HasPrefix(o.APIVersion, gwv1.GroupName+"/") || o.EffectiveNamespace() != toNS {
			continue
		}
		var spec gwv1.ReferenceGrantSpec
		if !decode(o, "spec", &spec) {
			continue
		}
		from, to := false, false
		for _, f := range spec.From {
			from = from || (string(f.Group) == gwv1.GroupName && string(f.Kind) == kind && string(f.Namespace) == fromNS)
		}
		for _, t := range spec.To {
			to = to || (string(t.Group) == "" && string(t.Kind) == "Service" && (t.Name == nil || string(*t.Name) == name))
		}
		if from && to {
			return true
		}
	}
	return false
}

func hostOr(h string) string {
	if h == "" {
		return "*"
	}
	return h
}

func carries(p gwv1.ProtocolType, kind string) bool { return slices.Contains(routeKinds[p], kind) }

func (a *analysis) attaches(r route, gw *object.Object, gwNS string, l gwv1.Listener) bool {
	for _, p := range r.parents {
		if (p.Kind != nil && *p.Kind != "Gateway") || (p.Group != nil && *p.Group != gwv1.GroupName) {
			continue
		}
		ns := r.obj.EffectiveNamespace()
		if p.Namespace != nil {
			ns = string(*p.Namespace)
		}
		if ns != gwNS || string(p.Name) != gw.Name {
			continue
		}
		if p.SectionName != nil && *p.SectionName != l.Name {
			continue
		}
		if p.Port != nil && *p.Port != l.Port {
			continue
		}
		if !allowedKind(l, r.kind) || !a.allowedNamespace(l, gwNS, r.obj.EffectiveNamespace()) {
			continue
		}
		return true
	}
	return false
}

// allowedKind applies the listener's allowedRoutes.kinds (by default, the
// kinds its protocol carries).
func allowedKind(l gwv1.Listener, kind string) bool {
	if l.AllowedRoutes == nil || len(l.AllowedRoutes.Kinds) == 0 {
		return true
	}
	for _, k := range l.AllowedRoutes.Kinds {
		if string(k.Kind) == kind && (k.Group == nil || string(*k.Group) == gwv1.GroupName) {
			return true
		}
	}
	return false
}

// allowedNamespace applies the listener's allowedRoutes.namespaces.from:
// Same by default, All, or Selector over the namespace's labels (allowed,
// with the benefit of the doubt, when the Namespace is not in the input).
func (a *analysis) allowedNamespace(l gwv1.Listener, gwNS, routeNS string) bool {
	if l.AllowedRoutes == nil || l.AllowedRoutes.Namespaces == nil || l.AllowedRoutes.Namespaces.From == nil {
		return gwNS == routeNS
	}
	switch *l.AllowedRoutes.Namespaces.From {
	case gwv1.NamespacesFromAll:
		return true
	case gwv1.NamespacesFromSelector:
		ns := a.namespace(routeNS)
		sel := l.AllowedRoutes.Namespaces.Selector
		if ns == nil || sel == nil {
			return true
		}
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return false
		}
		lbls := map[string]string{"kubernetes.io/metadata.name": routeNS}
		for k, v := range ns.Labels {
			lbls[k] = v
		}
		return s.Matches(labels.Set(lbls))
	}
	return gwNS == routeNS
}
