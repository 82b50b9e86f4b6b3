package cis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"

	"github.com/rampart-k8s/rampart/pkg/finding"
)

// LiveOptions tune live mode.
type LiveOptions struct {
	// NodeResultsNamespace holds the node job's ConfigMaps.
	NodeResultsNamespace string
	// KubeletCAFile verifies the kubelets' serving certificates; without
	// it, the cluster CA of the kubeconfig is used.
	KubeletCAFile string
	// KubeletInsecureTLS skips verifying the kubelets' certificates (they
	// are often self-signed); the bearer credentials still go only to
	// the node addresses the API server lists.
	KubeletInsecureTLS bool
	// KubeletAddressTypes are tried in order (InternalIP first).
	KubeletAddressTypes []corev1.NodeAddressType
	// Timeout bounds each kubelet request.
	Timeout time.Duration
}

// NodeResultsLabel marks the ConfigMaps the node job writes.
const NodeResultsLabel = "rampart.dev/cis-node"

// NodeResultsKey is the ConfigMap key holding a node's results.
const NodeResultsKey = "results.json"

// NodeResultsName is the ConfigMap holding a node's results.
func NodeResultsName(node string) string {
	name := "rampart-cis-" + strings.ToLower(node)
	if len(name) > 253 {
		name = name[:253]
	}
	return name
}

// NodeReport is what the node job publishes for one node.
type NodeReport struct {
	Benchmark string    `json:"benchmark"`
	Node      string    `json:"node"`
	Role      string    `json:"role"`
	Time      time.Time `json:"time"`
	Results   []Result  `json:"results"`
}

// Live is what live mode read of a cluster.
type Live struct {
	Nodes []*Node
	// NodeReports are the node job's results, by node.
	NodeReports []NodeReport
	// Forbidden are the reads refused, as permissions ("list nodes").
	Forbidden []string
	// ProxyAbsent: no kube-proxy runs (a CNI may replace it).
	ProxyAbsent    bool
	nodeReportsErr string
}

// ReadLive reads the control-plane flags from the mirror pods in
// kube-system, each kubelet's configuration from its configz endpoint
// (authorized as nodes/configz; never through the API server's node proxy),
// kube-proxy's DaemonSet and configuration, and the node job's results.
func ReadLive(ctx context.Context, b *Benchmark, cfg *rest.Config, opts LiveOptions) (*Live, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if opts.NodeResultsNamespace == "" {
		opts.NodeResultsNamespace = "rampart"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if len(opts.KubeletAddressTypes) == 0 {
		opts.KubeletAddressTypes = []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName}
	}
	l := &Live{}
	forbidden := func(err error, perm string) bool {
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			l.Forbidden = append(l.Forbidden, perm)
			return true
		}
		return false
	}
	byNode := map[string]*Node{}
	nodeFor := func(name string) *Node {
		if n := byNode[name]; n != nil {
			return n
		}
		n := &Node{Name: name, live: true, instances: map[string]*instance{}, Role: "worker"}
		byNode[name] = n
		return n
	}
	// Control-plane components from their mirror pods.
	pods, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
	podsForbidden := false
	if err != nil {
		if !forbidden(err, "list pods in kube-system") {
			return nil, fmt.Errorf("listing pods in kube-system: %w", err)
		}
		podsForbidden = true
	}
	if pods != nil {
		for i := range pods.Items {
			p := &pods.Items[i]
			if _, mirror := p.Annotations["kubernetes.io/config.mirror"]; !mirror {
				continue // a static pod's mirror, not any pod that runs the binary
			}
			for _, name := range []string{"apiserver", "controller-manager", "scheduler", "etcd"} {
				c := b.Components[name]
				if c == nil {
					continue
				}
				in := instanceFromPod(p, c)
				if in == nil {
					continue
				}
				node := p.Spec.NodeName
				if node == "" {
					node = p.Name
				}
				n := nodeFor(node)
				n.ControlPlane, n.Role = true, "control-plane"
				in.node = node
				n.instances[name] = in
			}
		}
	}
	// Nodes and their kubelets.
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil && !forbidden(err, "list nodes") {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	client, cerr := kubeletClient(cfg, opts)
	if nodes != nil {
		for i := range nodes.Items {
			nd := &nodes.Items[i]
			n := nodeFor(nd.Name)
			in := &instance{node: nd.Name, comp: b.Components["kubelet"], live: true, source: "configz of node " + nd.Name}
			ref := finding.ObjectRef{APIVersion: "v1", Kind: "Node", Name: nd.Name}
			in.object = &ref
			if cerr != nil {
				in.missing = "kubelet client: " + cerr.Error()
			} else if cfgNode, status, err := readConfigz(ctx, client, nd, opts); err != nil {
				in.missing = nodeOnlyKubelet + ": " + err.Error()
				if status == http.StatusForbidden || status == http.StatusUnauthorized {
					in.missing = "forbidden: needs get nodes/configz (node " + nd.Name + ")"
					l.Forbidden = append(l.Forbidden, "get nodes/configz")
				}
			} else {
				in.config, in.configFile = cfgNode, "configz of node "+nd.Name
			}
			n.instances["kubelet"] = in
		}
	}
	// kube-proxy: its DaemonSet and the ConfigMap its --config comes from.
	proxyIn, absent, perm := readProxy(ctx, cs, b.Components["proxy"])
	if perm != "" {
		l.Forbidden = append(l.Forbidden, perm)
	}
	l.ProxyAbsent = absent && perm == "" && !podsForbidden
	for _, n := range byNode {
		if podsForbidden {
			// Whether it runs the control plane is unknown: its
			// controls are not evaluated, not "not applicable".
			n.ControlPlane, n.Role = true, "unknown"
		}
		if proxyIn != nil {
			c := *proxyIn
			c.node = n.Name
			n.instances["proxy"] = &c
		} else {
			miss := "no kube-proxy DaemonSet in kube-system"
			if perm != "" {
				miss = "forbidden: needs " + perm
			}
			n.instances["proxy"] = &instance{node: n.Name, comp: b.Components["proxy"], live: true, missing: miss}
		}
		for _, name := range []string{"apiserver", "controller-manager", "scheduler", "etcd"} {
			if n.instances[name] == nil {
				miss := "no " + b.Components[name].Binary + " mirror pod in kube-system for node " + n.Name + " (a managed control plane shows none)"
				if podsForbidden {
					miss = "forbidden: needs list pods in kube-system"
				}
				n.instances[name] = &instance{node: n.Name, comp: b.Components[name], live: true, missing: miss}
			}
		}
		if n.instances["kubelet"] == nil {
			miss := "no Node object named " + n.Name
			if nodes == nil {
				miss = "forbidden: needs list nodes"
			}
			n.instances["kubelet"] = &instance{node: n.Name, comp: b.Components["kubelet"], live: true, missing: miss}
		}
	}
	names := make([]string, 0, len(byNode))
	for name := range byNode {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		l.Nodes = append(l.Nodes, byNode[name])
	}
	// The node job's results.
	cms, err := cs.CoreV1().ConfigMaps(opts.NodeResultsNamespace).List(ctx, metav1.ListOptions{LabelSelector: NodeResultsLabel})
	if err != nil {
		if apierrors.IsForbidden(err) {
			l.nodeReportsErr = "forbidden: needs list configmaps in " + opts.NodeResultsNamespace
			l.Forbidden = append(l.Forbidden, "list configmaps in "+opts.NodeResultsNamespace)
		} else {
			l.nodeReportsErr = err.Error()
		}
	} else {
		for _, cm := range cms.Items {
			var rep NodeReport
			if err := json.Unmarshal([]byte(cm.Data[NodeResultsKey]), &rep); err != nil || rep.Benchmark != b.ID {
				continue
			}
			// A report counts for the node its ConfigMap is named after,
			// and only for a node of the cluster.
			if cm.Name != NodeResultsName(rep.Node) || byNode[rep.Node] == nil {
				continue
			}
			l.NodeReports = append(l.NodeReports, rep)
		}
		sort.Slice(l.NodeReports, func(i, j int) bool { return l.NodeReports[i].Node < l.NodeReports[j].Node })
	}
	slices.Sort(l.Forbidden)
	l.Forbidden = slices.Compact(l.Forbidden)
	return l, nil
}

// instanceFromPod reads a component's container of a (mirror) pod.
func instanceFromPod(p *corev1.Pod, c *Component) *instance {
	for i, ct := range p.Spec.Containers {
		isIt := ct.Name == c.Binary || (len(ct.Command) > 0 && path.Base(ct.Command[0]) == c.Binary) || p.Labels["component"] == c.Binary && len(p.Spec.Containers) == 1
		if !isIt {
			continue
		}
		in := &instance{comp: c, live: true, source: "pod kube-system/" + p.Name}
		ref := finding.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: p.Namespace, Name: p.Name}
		in.object = &ref
		var paths []string
		items := append(append([]string{}, ct.Command...), ct.Args...)
		for j := range ct.Command {
			paths = append(paths, fmt.Sprintf("spec.containers[%d].command[%d]", i, j))
		}
		for j := range ct.Args {
			paths = append(paths, fmt.Sprintf("spec.containers[%d].args[%d]", i, j))
		}
		in.listPath = fmt.Sprintf("spec.containers[%d].command", i)
		env := map[string]string{}
		for _, e := range ct.Env {
			env[e.Name] = e.Value
		}
		in.setCommand(c, items, paths, env)
		return in
	}
	return nil
}

// kubeletClient is an HTTP client with the kubeconfig's credentials for
// talking to kubelets directly.
func kubeletClient(cfg *rest.Config, opts LiveOptions) (*http.Client, error) {
	tc, err := cfg.TransportConfig()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := transport.TLSConfigFor(tc)
	if err != nil {
		return nil, err
	}
	if tlsCfg == nil {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		tlsCfg = tlsCfg.Clone()
	}
	tlsCfg.ServerName = ""
	switch {
	case opts.KubeletInsecureTLS:
		tlsCfg.InsecureSkipVerify = true //nolint:gosec // asked for: kubelet serving certificates are often self-signed
	case opts.KubeletCAFile != "":
		pem, err := os.ReadFile(opts.KubeletCAFile)
		if err != nil {
			return nil, fmt.Errorf("--kubelet-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--kubelet-ca-file: no certificate in %s", opts.KubeletCAFile)
		}
		tlsCfg.RootCAs = pool
	}
	base := &http.Transport{TLSClientConfig: tlsCfg, Proxy: nil, DialContext: (&net.Dialer{Timeout: opts.Timeout}).DialContext, TLSHandshakeTimeout: opts.Timeout}
	rt, err := transport.HTTPWrappersForConfig(tc, base)
	if err != nil {
		return nil, err
	}
	// Never follow a redirect: the credentials would go wherever a node's
	// kubelet (or whoever holds its address) points.
	return &http.Client{Transport: rt, Timeout: opts.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, nil
}

// readConfigz reads a kubelet's effective configuration from its configz
// endpoint, at the node's address and kubelet port.
func readConfigz(ctx context.Context, client *http.Client, nd *corev1.Node, opts LiveOptions) (*yaml.Node, int, error) {
	addr := ""
	for _, t := range opts.KubeletAddressTypes {
		for _, a := range nd.Status.Addresses {
			if a.Type == t && a.Address != "" && addr == "" {
				addr = a.Address
			}
		}
	}
	if addr == "" {
		return nil, 0, fmt.Errorf("node %s has no address", nd.Name)
	}
	port := int(nd.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port == 0 {
		port = 10250
	}
	url := "https://" + net.JoinHostPort(addr, strconv.Itoa(port)) + "/configz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := client.Do(req) // redirects are not followed (kubeletClient)
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var wrapped struct {
		KubeletConfig json.RawMessage `json:"kubeletconfig"`
	}
	if err := json.Unmarshal(body, &wrapped); err != nil || len(wrapped.KubeletConfig) == 0 {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: not a configz answer", url)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(wrapped.KubeletConfig, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, resp.StatusCode, fmt.Errorf("GET %s: the kubeletconfig is not a configuration", url)
	}
	return doc.Content[0], resp.StatusCode, nil
}

// readProxy reads kube-proxy's DaemonSet in kube-system and the
// configuration file its --config names, from the ConfigMap mounted there.
func readProxy(ctx context.Context, cs kubernetes.Interface, c *Component) (in *instance, absent bool, forbidden string) {
	if c == nil {
		return nil, true, ""
	}
	dss, err := cs.AppsV1().DaemonSets("kube-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		if apierrors.IsForbidden(err) {
			return nil, false, "list daemonsets in kube-system"
		}
		return nil, false, ""
	}
	for i := range dss.Items {
		ds := &dss.Items[i]
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: ds.Name, Namespace: ds.Namespace, Labels: ds.Spec.Template.Labels}, Spec: ds.Spec.Template.Spec}
		in := instanceFromPod(pod, c)
		if in == nil {
			continue
		}
		ref := finding.ObjectRef{APIVersion: "apps/v1", Kind: "DaemonSet", Namespace: ds.Namespace, Name: ds.Name}
		in.object, in.source = &ref, "daemonset kube-system/"+ds.Name
		in.underTemplate()
		conf, _ := in.cl.Lookup("--config", c)
		if conf == "" {
			return in, false, ""
		}
		for _, v := range ds.Spec.Template.Spec.Volumes {
			if v.ConfigMap == nil {
				continue
			}
			mounted := false
			for _, ct := range ds.Spec.Template.Spec.Containers {
				for _, m := range ct.VolumeMounts {
					if m.Name == v.Name && strings.HasPrefix(conf, strings.TrimSuffix(m.MountPath, "/")+"/") {
						mounted = true
					}
				}
			}
			if !mounted {
				continue
			}
			cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
			if err != nil {
				in.configMissing = "configmap kube-system/" + v.ConfigMap.Name + " (kube-proxy's --config): " + err.Error()
				if apierrors.IsForbidden(err) {
					in.configMissing = "forbidden: needs get configmaps/" + v.ConfigMap.Name + " in kube-system"
					return in, false, "get configmaps/" + v.ConfigMap.Name + " in kube-system"
				}
				return in, false, ""
			}
			text, ok := cm.Data[path.Base(conf)]
			var doc yaml.Node
			if !ok || yaml.Unmarshal([]byte(text), &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
				in.configMissing = "configmap kube-system/" + cm.Name + " has no readable " + path.Base(conf)
				return in, false, ""
			}
			in.config, in.configFile = doc.Content[0], "configmap kube-system/"+cm.Name
			return in, false, ""
		}
		in.configMissing = "kube-proxy's --config " + conf + " comes from no ConfigMap of its DaemonSet"
		return in, false, ""
	}
	return nil, true, ""
}

// underTemplate makes the item paths those of a pod template's.
func (in *instance) underTemplate() {
	inner := in.itemPath
	in.itemPath = func(i int) string { return "spec.template." + inner(i) }
	in.listPath = "spec.template." + in.listPath
}
