package netpol

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

// upstreamCase is one case of the Kubernetes network-policy e2e suite
// (test/e2e/network/netpol in the k8s.io/kubernetes module), ported as data:
// the pods it creates, then steps as the suite runs them: policies created
// (or updated, by namespace and name) or deleted, and probes with their
// expected reachability: a default, then expectations applied in order. In
// from and to, "" is every pod, "x" every pod of namespace x, "x/a" one pod.
type upstreamCase struct {
	Name string   `json:"name"`
	Pods []string `json:"pods"`
	// PodIPs stands for the addresses the suite reads from running pods.
	PodIPs map[string]string `json:"podIPs"`
	Steps  []struct {
		Policies []networkingv1.NetworkPolicy `json:"policies"`
		Delete   []string                     `json:"delete"` // "ns/name"
		// Labels added to namespaces ("x") and pods ("x/a") from this step on.
		NamespaceLabels map[string]map[string]string `json:"namespaceLabels"`
		PodLabels       map[string]map[string]string `json:"podLabels"`
		Probes          []struct {
			Port     int32           `json:"port"`
			Protocol corev1.Protocol `json:"protocol"`
			Default  bool            `json:"default"`
			Expect   []struct {
				From    string `json:"from"`
				To      string `json:"to"`
				Allowed bool   `json:"allowed"`
			} `json:"expect"`
		} `json:"probes"`
	} `json:"steps"`
}

// upstreamPod builds a pod as the suite does: label pod=NAME, namespace
// label kubernetes.io/metadata.name, and one container port per port and
// protocol, named serve-PORT-PROTOCOL.
func upstreamPod(s string, nsLabels, podLabels map[string]map[string]string, ips map[string]string) Endpoint {
	ns, name, _ := strings.Cut(s, "/")
	p := &Pod{Namespace: ns, NSLabels: map[string]string{"kubernetes.io/metadata.name": ns}, Labels: map[string]string{"pod": name}}
	for k, v := range nsLabels[ns] {
		p.NSLabels[k] = v
	}
	for k, v := range podLabels[s] {
		p.Labels[k] = v
	}
	if ip, ok := ips[s]; ok {
		p.IP = netip.MustParseAddr(ip)
	}
	for _, port := range []int32{80, 81} {
		for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP} {
			p.Ports = append(p.Ports, corev1.ContainerPort{Name: fmt.Sprintf("serve-%d-%s", port, strings.ToLower(string(proto))), ContainerPort: port, Protocol: proto})
		}
	}
	return Endpoint{Pod: p}
}

func peerMatches(peer, pod string) bool {
	if peer == "" || peer == pod {
		return true
	}
	return !strings.Contains(peer, "/") && strings.HasPrefix(pod, peer+"/")
}

// TestUpstreamE2ETruthTables: every ported case, every ordered pair of
// distinct pods (the suite ignores loopback), must match the expected
// reachability.
func TestUpstreamE2ETruthTables(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "upstream", "*.yaml"))
	// The suite (k8s.io/kubernetes v1.37.2) has 49 cases; all are ported.
	if err != nil || len(files) < 49 {
		t.Fatalf("%d ported cases, want the suite's 49 (%v)", len(files), err)
	}
	sort.Strings(files)
	pairs := 0
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var c upstreamCase
			if err := yaml.UnmarshalStrict(data, &c); err != nil {
				t.Fatal(err)
			}
			if c.Name == "" || len(c.Pods) < 2 || len(c.Steps) == 0 {
				t.Fatalf("incomplete case %+v", c)
			}
			live := map[string]*networkingv1.NetworkPolicy{}
			nsLabels, podLabels := map[string]map[string]string{}, map[string]map[string]string{}
			add := func(into, from map[string]map[string]string) {
				for key, labels := range from {
					if into[key] == nil {
						into[key] = map[string]string{}
					}
					for k, v := range labels {
						into[key][k] = v
					}
				}
			}
			var wrong []string
			for si, step := range c.Steps {
				for i := range step.Policies {
					np := &step.Policies[i]
					live[np.Namespace+"/"+np.Name] = np
				}
				add(nsLabels, step.NamespaceLabels)
				add(podLabels, step.PodLabels)
				for _, d := range step.Delete {
					if live[d] == nil {
						t.Fatalf("step %d deletes unknown policy %s", si, d)
					}
					delete(live, d)
				}
				var pols []*networkingv1.NetworkPolicy
				for _, np := range live {
					pols = append(pols, np)
				}
				sort.Slice(pols, func(i, j int) bool { return pols[i].Namespace+"/"+pols[i].Name < pols[j].Namespace+"/"+pols[j].Name })
				e, err := New(pols)
				if err != nil {
					t.Fatal(err)
				}
				if len(step.Probes) == 0 {
					t.Fatalf("step %d probes nothing", si)
				}
				for _, pr := range step.Probes {
					if pr.Port == 0 || pr.Protocol == "" {
						t.Fatalf("step %d: probe without port or protocol", si)
					}
					port := Port{Protocol: pr.Protocol, Number: pr.Port}
					for _, from := range c.Pods {
						for _, to := range c.Pods {
							if from == to {
								continue
							}
							want := pr.Default
							for _, x := range pr.Expect {
								if peerMatches(x.From, from) && peerMatches(x.To, to) {
									want = x.Allowed
								}
							}
							pairs++
							if got := e.Decide(upstreamPod(from, nsLabels, podLabels, c.PodIPs), upstreamPod(to, nsLabels, podLabels, c.PodIPs), port).Allowed; got != want {
								wrong = append(wrong, fmt.Sprintf("step %d, %d/%s: %s -> %s: %v, want %v", si, pr.Port, pr.Protocol, from, to, got, want))
							}
						}
					}
				}
			}
			if len(wrong) > 0 {
				t.Errorf("%s: %d disagreements:\n%s", c.Name, len(wrong), strings.Join(wrong, "\n"))
			}
		})
	}
	t.Logf("%d cases, %d pod pairs compared", len(files), pairs)
}
