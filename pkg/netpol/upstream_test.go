package netpol

import (
	"fmt"
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
// the pods it creates, the policies, the probed port, and its expected
// reachability: a default, then expectations applied in order. In from and
// to, "" is every pod, "x" every pod of namespace x, "x/a" one pod.
type upstreamCase struct {
	Name     string                       `json:"name"`
	Pods     []string                     `json:"pods"`
	Port     int32                        `json:"port"`
	Protocol corev1.Protocol              `json:"protocol"`
	Default  bool                         `json:"default"`
	Policies []networkingv1.NetworkPolicy `json:"policies"`
	Expect   []struct {
		From    string `json:"from"`
		To      string `json:"to"`
		Allowed bool   `json:"allowed"`
	} `json:"expect"`
}

// upstreamPod builds a pod as the suite does: label pod=NAME, namespace
// label kubernetes.io/metadata.name, and one container port per port and
// protocol, named serve-PORT-PROTOCOL.
func upstreamPod(s string) Endpoint {
	ns, name, _ := strings.Cut(s, "/")
	p := &Pod{Namespace: ns, NSLabels: map[string]string{"kubernetes.io/metadata.name": ns}, Labels: map[string]string{"pod": name}}
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
	if err != nil || len(files) == 0 {
		t.Fatalf("no ported cases (%v)", err)
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
			if c.Name == "" || len(c.Pods) < 2 || c.Port == 0 || c.Protocol == "" {
				t.Fatalf("incomplete case %+v", c)
			}
			pols := make([]*networkingv1.NetworkPolicy, len(c.Policies))
			for i := range c.Policies {
				pols[i] = &c.Policies[i]
			}
			e, err := New(pols)
			if err != nil {
				t.Fatal(err)
			}
			port := Port{Protocol: c.Protocol, Number: c.Port}
			var wrong []string
			for _, from := range c.Pods {
				for _, to := range c.Pods {
					if from == to {
						continue
					}
					want := c.Default
					for _, x := range c.Expect {
						if peerMatches(x.From, from) && peerMatches(x.To, to) {
							want = x.Allowed
						}
					}
					pairs++
					if got := e.Decide(upstreamPod(from), upstreamPod(to), port).Allowed; got != want {
						wrong = append(wrong, fmt.Sprintf("%s -> %s: %v, want %v", from, to, got, want))
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
