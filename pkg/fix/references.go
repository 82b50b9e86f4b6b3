package fix

import (
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// serviceRef is a Service a workload's manifests show it connects to.
type serviceRef struct {
	ns  string
	svc *corev1.Service
}

// serviceIndex finds the Services of the input by namespace and name; only
// Services with a selector (the pods behind them are known) are indexed.
type serviceIndex map[string]*corev1.Service // "namespace/name"

func newServiceIndex(inv *inventory.Inventory) serviceIndex {
	idx := serviceIndex{}
	for _, o := range inv.Objects {
		if svc, ok := o.Typed.(*corev1.Service); ok && len(svc.Spec.Selector) > 0 {
			idx[o.EffectiveNamespace()+"/"+svc.Name] = svc
		}
	}
	return idx
}

var (
	// hostName is a DNS name as it appears in a value: svc, svc.ns,
	// svc.ns.svc, svc.ns.svc.cluster.local (in URLs, host:port, lists).
	hostName = regexp.MustCompile(`[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`)
	// serviceEnv is the variable the kubelet sets for a Service of the
	// pod's namespace: REDIS_MASTER_SERVICE_HOST for redis-master, and
	// FOO_SERVICE_PORT_HTTP for a named port of foo.
	serviceEnv = regexp.MustCompile(`\b([A-Z][A-Z0-9_]*?)_SERVICE_(?:HOST|PORT)(?:_[A-Z0-9_]+)?\b`)
)

// references returns the Services the workload's manifests name: DNS names
// and *_SERVICE_HOST/_PORT variables in env values, command and args, and
// in the ConfigMaps it reads (env, envFrom, volumes), sorted.
func (idx serviceIndex) references(inv *inventory.Inventory, w *object.Object) []serviceRef {
	if len(idx) == 0 || w.Pod == nil {
		return nil
	}
	ns := w.EffectiveNamespace()
	found := map[string]bool{}
	scan := func(s string) {
		for _, m := range serviceEnv.FindAllStringSubmatch(s, -1) {
			name := strings.ToLower(strings.ReplaceAll(m[1], "_", "-"))
			if idx[ns+"/"+name] != nil {
				found[ns+"/"+name] = true
			}
		}
		for _, h := range hostName.FindAllString(strings.ToLower(s), -1) {
			parts := strings.Split(h, ".")
			key := ns + "/" + parts[0]
			if len(parts) >= 2 {
				if len(parts) >= 3 && parts[2] != "svc" {
					continue // a name outside the cluster
				}
				key = parts[1] + "/" + parts[0]
			}
			if idx[key] != nil {
				found[key] = true
			}
		}
	}
	configMaps := map[string]bool{}
	for _, c := range w.Pod.Containers() {
		for _, e := range c.Env {
			scan(e.Value)
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
				if cm := configMap(inv, ns, e.ValueFrom.ConfigMapKeyRef.Name); cm != nil {
					scan(cm.Data[e.ValueFrom.ConfigMapKeyRef.Key])
				}
			}
		}
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil {
				configMaps[e.ConfigMapRef.Name] = true
			}
		}
		for _, a := range c.Command {
			scan(a)
		}
		for _, a := range c.Args {
			scan(a)
		}
	}
	for _, v := range w.Pod.Spec.Volumes {
		if v.ConfigMap != nil {
			configMaps[v.ConfigMap.Name] = true
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					configMaps[s.ConfigMap.Name] = true
				}
			}
		}
	}
	for name := range configMaps {
		if cm := configMap(inv, ns, name); cm != nil {
			for _, v := range cm.Data {
				scan(v)
			}
		}
	}
	keys := make([]string, 0, len(found))
	for k := range found {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]serviceRef, 0, len(keys))
	for _, k := range keys {
		refNS, _, _ := strings.Cut(k, "/")
		out = append(out, serviceRef{ns: refNS, svc: idx[k]})
	}
	return out
}

func configMap(inv *inventory.Inventory, ns, name string) *corev1.ConfigMap {
	if o := inv.Find("ConfigMap", ns, name); o != nil {
		cm, _ := o.Typed.(*corev1.ConfigMap)
		return cm
	}
	return nil
}
