// Package corpus generates a deterministic, real-looking manifest corpus for
// benchmarks: applications made of a workload, its Service, ConfigMap,
// ServiceAccount, RBAC and NetworkPolicy, with a realistic mix of mistakes.
package corpus

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// File is one generated manifest file.
type File struct {
	Name    string
	Content []byte
	Objects int
}

var (
	teams    = []string{"payments", "search", "catalog", "identity", "ads", "media", "ops", "data", "mobile", "web"}
	images   = []string{"nginx", "redis", "postgres", "envoy", "busybox", "python", "node", "golang", "openjdk", "memcached"}
	verbs    = [][]string{{"get", "list", "watch"}, {"get", "list", "watch", "create", "update", "patch", "delete"}, {"*"}}
	resLists = [][]string{{"configmaps"}, {"pods", "pods/log"}, {"secrets"}, {"deployments", "replicasets"}, {"*"}}
)

// Generate returns files holding at least n objects, the same for the same seed.
func Generate(n int, seed uint64) []File {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var files []File
	total := 0
	for app := 0; total < n; app++ {
		team := teams[app%len(teams)]
		ns := fmt.Sprintf("%s-%d", team, app%40)
		name := fmt.Sprintf("%s-svc-%d", team, app)
		var b strings.Builder
		objs := 0
		doc := func(s string) {
			if objs > 0 {
				b.WriteString("---\n")
			}
			b.WriteString(s)
			objs++
		}
		doc(workload(r, ns, name))
		doc(service(r, ns, name))
		doc(configMap(r, ns, name))
		doc(fmt.Sprintf("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: %s\n  namespace: %s\n", name, ns))
		if r.IntN(2) == 0 {
			doc(role(r, ns, name))
			doc(fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: %[1]s
  namespace: %[2]s
subjects:
- kind: ServiceAccount
  name: %[1]s
  namespace: %[2]s
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: %[1]s
`, name, ns))
		}
		if r.IntN(3) > 0 {
			doc(netpol(r, ns, name))
		}
		if r.IntN(4) == 0 {
			doc(ingress(r, ns, name))
		}
		files = append(files, File{Name: fmt.Sprintf("%s/%s.yaml", team, name), Content: []byte(b.String()), Objects: objs})
		total += objs
	}
	return files
}

func workload(r *rand.Rand, ns, name string) string {
	kind := []string{"Deployment", "Deployment", "Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job"}[r.IntN(7)]
	apiVersion := "apps/v1"
	if kind == "CronJob" || kind == "Job" {
		apiVersion = "batch/v1"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n  namespace: %s\n  labels:\n    app.kubernetes.io/name: %s\n    team: %s\n  annotations:\n    description: generated workload %s for benchmarks\n", apiVersion, kind, name, ns, name, ns, name)
	indent := "  "
	b.WriteString("spec:\n")
	switch kind {
	case "CronJob":
		b.WriteString("  schedule: \"*/15 * * * *\"\n  jobTemplate:\n    spec:\n")
		indent = "      "
	case "Job":
	default:
		if kind != "DaemonSet" {
			fmt.Fprintf(&b, "  replicas: %d\n", 1+r.IntN(5))
		}
		if kind == "StatefulSet" {
			fmt.Fprintf(&b, "  serviceName: %s\n", name)
		}
		fmt.Fprintf(&b, "  selector:\n    matchLabels:\n      app.kubernetes.io/name: %s\n", name)
	}
	fmt.Fprintf(&b, "%stemplate:\n%s  metadata:\n%s    labels:\n%s      app.kubernetes.io/name: %s\n%s  spec:\n", indent, indent, indent, indent, name, indent)
	p := indent + "    "
	if kind == "CronJob" || kind == "Job" {
		fmt.Fprintf(&b, "%srestartPolicy: OnFailure\n", p)
	}
	fmt.Fprintf(&b, "%sserviceAccountName: %s\n", p, name)
	switch r.IntN(4) {
	case 0:
		fmt.Fprintf(&b, "%shostNetwork: true\n", p)
	case 1:
		fmt.Fprintf(&b, "%ssecurityContext:\n%s  runAsNonRoot: true\n%s  runAsUser: 10001\n%s  seccompProfile:\n%s    type: RuntimeDefault\n", p, p, p, p, p)
	}
	fmt.Fprintf(&b, "%scontainers:\n", p)
	for c := 0; c < 1+r.IntN(2); c++ {
		img := images[r.IntN(len(images))]
		tag := []string{"latest", "1.27.3", "7.2", "16-alpine", "v1.30.1"}[r.IntN(5)]
		fmt.Fprintf(&b, "%s- name: c%d\n%s  image: registry.example.com/%s:%s\n", p, c, p, img, tag)
		fmt.Fprintf(&b, "%s  ports:\n%s  - containerPort: %d\n%s    name: http\n", p, p, 8080+c, p)
		fmt.Fprintf(&b, "%s  env:\n%s  - name: LOG_LEVEL\n%s    value: info\n%s  - name: DB_HOST\n%s    value: db.%s.svc\n", p, p, p, p, p, ns)
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, "%s  - name: API_TOKEN\n%s    valueFrom:\n%s      secretKeyRef:\n%s        name: %s\n%s        key: token\n", p, p, p, p, name, p)
		}
		if r.IntN(2) == 0 {
			fmt.Fprintf(&b, "%s  resources:\n%s    requests:\n%s      cpu: %dm\n%s      memory: %dMi\n%s    limits:\n%s      memory: %dMi\n", p, p, p, 100*(1+r.IntN(5)), p, 128*(1+r.IntN(4)), p, p, 512)
		}
		switch r.IntN(5) {
		case 0:
			fmt.Fprintf(&b, "%s  securityContext:\n%s    privileged: true\n", p, p)
		case 1:
			fmt.Fprintf(&b, "%s  securityContext:\n%s    capabilities:\n%s      add: [\"NET_ADMIN\"]\n", p, p, p)
		case 2, 3:
			fmt.Fprintf(&b, "%s  securityContext:\n%s    allowPrivilegeEscalation: false\n%s    readOnlyRootFilesystem: true\n%s    capabilities:\n%s      drop: [\"ALL\"]\n", p, p, p, p, p)
		}
		fmt.Fprintf(&b, "%s  readinessProbe:\n%s    httpGet:\n%s      path: /healthz\n%s      port: %d\n", p, p, p, p, 8080+c)
		fmt.Fprintf(&b, "%s  volumeMounts:\n%s  - name: config\n%s    mountPath: /etc/app\n", p, p, p)
	}
	fmt.Fprintf(&b, "%svolumes:\n%s- name: config\n%s  configMap:\n%s    name: %s\n", p, p, p, p, name)
	if r.IntN(6) == 0 {
		fmt.Fprintf(&b, "%s- name: docker\n%s  hostPath:\n%s    path: /var/run/docker.sock\n", p, p, p)
	}
	return b.String()
}

func service(r *rand.Rand, ns, name string) string {
	typ := []string{"ClusterIP", "ClusterIP", "ClusterIP", "NodePort", "LoadBalancer"}[r.IntN(5)]
	return fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: %s\nspec:\n  type: %s\n  selector:\n    app.kubernetes.io/name: %s\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n    protocol: TCP\n", name, ns, typ, name)
}

func configMap(r *rand.Rand, ns, name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n", name, ns)
	for i := 0; i < 3+r.IntN(5); i++ {
		fmt.Fprintf(&b, "  setting_%d: \"value-%d\"\n", i, r.IntN(1000))
	}
	b.WriteString("  app.properties: |\n    server.port=8080\n    feature.flags=a,b,c\n    cache.ttl=300\n")
	return b.String()
}

func role(r *rand.Rand, ns, name string) string {
	vs := verbs[r.IntN(len(verbs))]
	rs := resLists[r.IntN(len(resLists))]
	return fmt.Sprintf("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: %s\n  namespace: %s\nrules:\n- apiGroups: [\"\", \"apps\"]\n  resources: [%s]\n  verbs: [%s]\n", name, ns, quoteList(rs), quoteList(vs))
}

func netpol(r *rand.Rand, ns, name string) string {
	return fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: %[1]s
  namespace: %[2]s
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: %[1]s
  policyTypes: ["Ingress", "Egress"]
  ingress:
  - from:
    - namespaceSelector:
        matchLabels:
          team: %[2]s
      podSelector:
        matchExpressions:
        - {key: tier, operator: In, values: [frontend, api]}
    ports:
    - port: %[3]d
      protocol: TCP
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/8
        except: [10.1.0.0/16]
    ports:
    - port: 5432
  - ports:
    - port: 53
      protocol: UDP
`, name, ns, 8080+r.IntN(2))
}

func ingress(r *rand.Rand, ns, name string) string {
	tls := ""
	if r.IntN(2) == 0 {
		tls = fmt.Sprintf("  tls:\n  - hosts: [%s.example.com]\n    secretName: %s-tls\n", name, name)
	}
	return fmt.Sprintf("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: %[1]s\n  namespace: %[2]s\nspec:\n%[3]s  rules:\n  - host: %[1]s.example.com\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: %[1]s\n            port:\n              number: 80\n", name, ns, tls)
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = `"` + x + `"`
	}
	return strings.Join(q, ", ")
}
