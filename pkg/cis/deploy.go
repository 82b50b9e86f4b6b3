package cis

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// NodeJobOptions shape the node job.
type NodeJobOptions struct {
	Namespace string
	Image     string
	Benchmark string
	// Interval between runs on each node.
	Interval time.Duration
	// KubeletFiles are the kubelet's files outside the mounted folders
	// (default: kubeadm's configuration and flags file).
	KubeletFiles []string
	// ExtraPaths are more host folders to mount (/etc/sysconfig on RHEL).
	ExtraPaths []string
	// EtcdDataDir is mounted on control-plane nodes ("": none, for an
	// external etcd); NodeJob's default is /var/lib/etcd.
	EtcdDataDir string
}

// hostMount is a host path the node job reads. Every one must exist (type
// Directory or File): a mount that may be missing would have the container
// runtime create it on the host, which a read-only job must never do.
type hostMount struct {
	path string
	file bool
}

// nodeMounts are the folders and files node mode reads on every node:
// kubeconfigs, PKI and static pod manifests, systemd's unit folders,
// /etc/default (the kubelet's extra arguments), CNI configuration, and the
// users and groups that name owners. Not /var/lib/kubelet: its pods'
// Secret volumes live there.
var nodeMounts = []hostMount{
	{"/etc/kubernetes", false},
	{"/etc/systemd/system", false},
	{"/run/systemd/system", false},
	{"/usr/lib/systemd/system", false},
	{"/lib/systemd/system", false},
	{"/etc/default", false},
	{"/etc/cni/net.d", false},
	{"/etc/passwd", true},
	{"/etc/group", true},
}

// NodeJob is what runs node mode on every node: a ServiceAccount that may
// write only ConfigMaps in its namespace, and two DaemonSets whose pods
// mount the node's files read-only and publish the node's results every
// interval: one for control-plane nodes (which also mounts etcd's data
// folder, to judge its mode and owner) and one for the others.
func NodeJob(o NodeJobOptions) []runtime.Object {
	if o.Namespace == "" {
		o.Namespace = "rampart"
	}
	if o.Benchmark == "" {
		o.Benchmark = DefaultBenchmark
	}
	if o.Interval == 0 {
		o.Interval = 24 * time.Hour
	}
	if len(o.KubeletFiles) == 0 {
		o.KubeletFiles = []string{"/var/lib/kubelet/config.yaml", "/var/lib/kubelet/kubeadm-flags.env"}
	}
	name := "rampart-cis-node"
	labels := map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "rampart"}
	meta := func(n string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: n, Namespace: o.Namespace, Labels: labels}
	}
	sa := &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta(name), AutomountServiceAccountToken: ptr.To(false)}
	role := &rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}, ObjectMeta: meta(name),
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "create", "update"}}}}
	rb := &rbacv1.RoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"}, ObjectMeta: meta(name),
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: o.Namespace}}}
	mounts := append([]hostMount{}, nodeMounts...)
	for _, f := range o.KubeletFiles {
		mounts = append(mounts, hostMount{f, true})
	}
	for _, p := range o.ExtraPaths {
		mounts = append(mounts, hostMount{p, false})
	}
	controlPlane := "node-role.kubernetes.io/control-plane"
	cpMounts := append([]hostMount{}, mounts...)
	if o.EtcdDataDir != "" {
		cpMounts = append(cpMounts, hostMount{o.EtcdDataDir, false})
	}
	cp := o.daemonSet(name+"-control-plane", name, labels, cpMounts,
		corev1.NodeSelectorRequirement{Key: controlPlane, Operator: corev1.NodeSelectorOpExists})
	workers := o.daemonSet(name, name, labels, mounts,
		corev1.NodeSelectorRequirement{Key: controlPlane, Operator: corev1.NodeSelectorOpDoesNotExist})
	return []runtime.Object{sa, role, rb, cp, workers}
}

func (o NodeJobOptions) daemonSet(dsName, saName string, labels map[string]string, mounts []hostMount, where corev1.NodeSelectorRequirement) *appsv1.DaemonSet {
	var vols []corev1.Volume
	var vms []corev1.VolumeMount
	for i, m := range mounts {
		t := corev1.HostPathDirectory
		if m.file {
			t = corev1.HostPathFile
		}
		vn := fmt.Sprintf("host-%d", i)
		vols = append(vols, corev1.Volume{Name: vn, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: m.path, Type: ptr.To(t)}}})
		vms = append(vms, corev1.VolumeMount{Name: vn, MountPath: "/host" + m.path, ReadOnly: true})
	}
	vols = append(vols, corev1.Volume{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3600)}},
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
		{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
	}}}})
	vms = append(vms, corev1.VolumeMount{Name: "token", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true})
	podLabels := map[string]string{"app.kubernetes.io/name": dsName, "app.kubernetes.io/part-of": "rampart"}
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: dsName, Namespace: o.Namespace, Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": dsName}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					ServiceAccountName:           saName,
					AutomountServiceAccountToken: ptr.To(false),
					Tolerations:                  []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
						NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{where}}}}}},
					SecurityContext: &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{
						Name:  "cis",
						Image: o.Image,
						Args: []string{"cis", "--root", "/host", "--node-name", "$(NODE_NAME)", "--benchmark", o.Benchmark,
							"--publish", "--node-results-namespace", o.Namespace, "--interval", o.Interval.String(), "-o", "json", "--fail-on", "none"},
						Env: []corev1.EnvVar{{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
						SecurityContext: &corev1.SecurityContext{
							// Root reads the root-owned 600 files; no
							// capability is needed for that.
							RunAsUser:                ptr.To[int64](0),
							RunAsNonRoot:             ptr.To(false),
							AllowPrivilegeEscalation: ptr.To(false),
							ReadOnlyRootFilesystem:   ptr.To(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: mustQty("10m"), corev1.ResourceMemory: mustQty("32Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: mustQty("128Mi")},
						},
						VolumeMounts: vms,
					}},
					Volumes: vols,
				},
			},
		},
	}
}

// LiveRBAC is the least privilege live mode needs: list what section 5
// judges, nodes, and get nodes/configz (never nodes/proxy); list the
// node job's ConfigMaps; get kube-proxy's ConfigMap.
func LiveRBAC(namespace, serviceAccount, saNamespace string, resources []string) []runtime.Object {
	if namespace == "" {
		namespace = "rampart"
	}
	name := "rampart-cis"
	byGroup := map[string][]string{}
	var groups []string
	for _, r := range resources {
		res, group, _ := strings.Cut(r, ".")
		if res == "secrets" || res == "configmaps" {
			continue // section 5 does not read them
		}
		if _, ok := byGroup[group]; !ok {
			groups = append(groups, group)
		}
		byGroup[group] = append(byGroup[group], res)
	}
	cr := &rbacv1.ClusterRole{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"}, ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, g := range groups {
		cr.Rules = append(cr.Rules, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: byGroup[g], Verbs: []string{"list"}})
	}
	cr.Rules = append(cr.Rules,
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"list"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"nodes/configz"}, Verbs: []string{"get"}})
	objs := []runtime.Object{cr}
	ns := &rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list"}}}}
	ks := &rbacv1.Role{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"kube-proxy"}, Verbs: []string{"get"}}}}
	objs = append(objs, ns, ks)
	if serviceAccount != "" {
		subj := []rbacv1.Subject{{Kind: "ServiceAccount", Name: serviceAccount, Namespace: saNamespace}}
		objs = append(objs,
			&rbacv1.ClusterRoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"}, ObjectMeta: metav1.ObjectMeta{Name: name},
				RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name}, Subjects: subj},
			&rbacv1.RoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
				RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name}, Subjects: subj},
			&rbacv1.RoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"}, ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"},
				RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name}, Subjects: subj})
	}
	return objs
}

func mustQty(s string) resource.Quantity { return resource.MustParse(s) }
