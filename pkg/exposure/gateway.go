package exposure

import (
	"fmt"
	"sort"
	"strings"

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
}

func (a *analysis) routes() []route {
	var out []route
	for _, kind := range []string{"HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute"} {
		for _, o := range a.inv.OfKind(kind) {
			if !strings.HasPrefix(o.APIVersion, gwv1.GroupName+"/") {
				continue
			}
			r := route{obj: o, kind: kind}
			switch kind {
			case "HTTPRoute":
				var s gwv1.HTTPRouteSpec
				if !decode(o, "spec", &s) {
					continue
				}
				r.parents, r.hostnames = s.ParentRefs, hostnames(s.Hostnames)
				for i, rule := range s.Rules {
					rr := routeRule{field: fmt.Sprintf("spec.rules[%d]", i)}
					for _, m := range rule.Matches {
						if m.Path != nil && m.Path.Value != nil {
							rr.paths = append(rr.paths, *m.Path.Value)
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
					continue
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
					continue
				}
				r.parents, r.hostnames = s.ParentRefs, hostnames(s.Hostnames)
				for i, rule := range s.Rules {
					rr := routeRule{field: fmt.Sprintf("spec.rules[%d]", i)}
					for _, b := range rule.BackendRefs {
						rr.backends = append(rr.backends, b.BackendObjectReference)
					}
					r.rules = append(r.rules, rr)
				}
			case "TCPRoute":
				var s gwv1.TCPRouteSpec
				if !decode(o, "spec", &s) {
					continue
				}
				r.parents = s.ParentRefs
				for i, rule := range s.Rules {
					rr := routeRule{field: fmt.Sprintf("spec.rules[%d]", i)}
					for _, b := range rule.BackendRefs {
						rr.backends = append(rr.backends, b.BackendObjectReference)
					}
					r.rules = append(r.rules, rr)
				}
			}
			out = append(out, r)
		}
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
}

// gateways adds an entry per listener and route rule attached to it: a
// route attaches through a parentRef naming the Gateway (and the listener
// by sectionName or port, when given) of a kind the listener carries.
func (a *analysis) gateways() {
	routes := a.routes()
	attached := map[*object.Object]bool{}
	for _, o := range a.inv.OfKind("Gateway") {
		if !strings.HasPrefix(o.APIVersion, gwv1.GroupName+"/") {
			continue
		}
		var spec gwv1.GatewaySpec
		if !decode(o, "spec", &spec) {
			a.out.Notices = append(a.out.Notices, fmt.Sprintf("Gateway %s/%s: its spec could not be read", o.EffectiveNamespace(), o.Name))
			continue
		}
		var status gwv1.GatewayStatus
		decode(o, "status", &status)
		var addrs []string
		for _, ad := range status.Addresses {
			addrs = append(addrs, ad.Value)
		}
		ns := o.EffectiveNamespace()
		for li, l := range spec.Listeners {
			lf := fmt.Sprintf("spec.listeners[%d]", li)
			tls := TLSNone
			switch l.Protocol {
			case gwv1.HTTPSProtocolType:
				tls = TLSTerminated
			case gwv1.TLSProtocolType:
				tls = TLSPassthrough
				if l.TLS != nil && l.TLS.Mode != nil && *l.TLS.Mode == gwv1.TLSModeTerminate {
					tls = TLSTerminated
				}
			case gwv1.TCPProtocolType, gwv1.UDPProtocolType:
				tls = TLSUnknown
			}
			if l.TLS != nil && l.TLS.Mode != nil && *l.TLS.Mode == gwv1.TLSModePassthrough {
				tls = TLSPassthrough
			}
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
				if !carries(l.Protocol, r.kind) || !attaches(r, o, ns, l) {
					continue
				}
				attached[r.obj] = true
				rns := r.obj.EffectiveNamespace()
				hosts := r.hostnames
				if len(hosts) == 0 {
					hosts = []string{host}
				}
				for _, rr := range r.rules {
					paths := rr.paths
					if len(paths) == 0 {
						paths = []string{""}
					}
					for _, b := range rr.backends {
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
						backend, targets := a.backendTargets(bns, string(b.Name), port, "")
						for _, h := range hosts {
							for _, p := range paths {
								any = true
								id := fmt.Sprintf("Gateway %s/%s %s %d %s %s/%s %s%s -> %s", ns, o.Name, l.Name, l.Port, r.kind, rns, r.obj.Name, hostOr(h), p, backend)
								a.add(Entry{ID: id, Kind: KindGateway, Object: refOf(o), Field: lf, Where: locate(o, lf),
									Addresses: nonNil(addrs), Port: int32(l.Port), Protocol: proto, Sources: world, Host: h, Path: p, TLS: tls,
									Backend: fmt.Sprintf("%s %s/%s %s -> %s", r.kind, rns, r.obj.Name, rr.field, backend), Targets: targets})
								if tls == TLSPassthrough {
									a.passthrough(o, lf, targets, bns, string(b.Name), port)
								}
							}
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
		if !attached[r.obj] {
			a.out.Notices = append(a.out.Notices, fmt.Sprintf("%s %s/%s attaches to no Gateway listener in the input", r.kind, r.obj.EffectiveNamespace(), r.obj.Name))
		}
	}
	sort.Strings(a.out.Notices)
}

func hostOr(h string) string {
	if h == "" {
		return "*"
	}
	return h
}

func carries(p gwv1.ProtocolType, kind string) bool {
	for _, k := range routeKinds[p] {
		if k == kind {
			return true
		}
	}
	return false
}

func attaches(r route, gw *object.Object, gwNS string, l gwv1.Listener) bool {
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
		if !allowedNamespace(l, gwNS, r.obj.EffectiveNamespace()) {
			continue
		}
		return true
	}
	return false
}

// allowedNamespace applies the listener's allowedRoutes.namespaces.from
// (Same by default; All; Selector is taken as allowing, since namespace
// labels may not be in the input).
func allowedNamespace(l gwv1.Listener, gwNS, routeNS string) bool {
	if l.AllowedRoutes == nil || l.AllowedRoutes.Namespaces == nil || l.AllowedRoutes.Namespaces.From == nil {
		return gwNS == routeNS
	}
	switch *l.AllowedRoutes.Namespaces.From {
	case gwv1.NamespacesFromAll, gwv1.NamespacesFromSelector:
		return true
	}
	return gwNS == routeNS
}
