// Package testcluster starts a real kube-apiserver and etcd for tests,
// through controller-runtime's envtest, from binaries that
// hack/control-plane.sh builds from the Go module proxy (once, into a cache
// folder outside the repository). Tests that need a cluster fail, never
// skip, when it cannot start.
package testcluster

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Cluster is a running control plane.
type Cluster struct {
	Env    *envtest.Environment
	Config *rest.Config
}

// Assets returns the folder holding kube-apiserver and etcd: KUBEBUILDER_ASSETS
// when set, else what hack/control-plane.sh prints (building them if needed).
func Assets() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("bash", filepath.Join(root, "hack", "control-plane.sh")) //nolint:gosec // the project's own script
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("building the control plane with hack/control-plane.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "control-plane.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("hack/control-plane.sh not found above the working directory")
		}
		dir = parent
	}
}

// Start starts kube-apiserver and etcd on 127.0.0.1.
func Start() (*Cluster, error) { return StartWithWebhooks(envtest.WebhookInstallOptions{}) }

// StartWithWebhooks starts the control plane with admission webhooks
// registered: envtest points their client configurations at
// LocalServingHost:LocalServingPort (127.0.0.1) with a CA it generates, and
// leaves the serving certificate in LocalServingCertDir (tls.crt, tls.key).
func StartWithWebhooks(webhooks envtest.WebhookInstallOptions) (*Cluster, error) {
	return StartWith(webhooks, nil)
}

// StartWith starts the control plane with admission webhooks and more
// kube-apiserver flags (name to value, without the dashes).
func StartWith(webhooks envtest.WebhookInstallOptions, apiServerFlags map[string]string) (*Cluster, error) {
	assets, err := Assets()
	if err != nil {
		return nil, err
	}
	if len(webhooks.ValidatingWebhooks)+len(webhooks.MutatingWebhooks) > 0 && webhooks.LocalServingHost == "" {
		webhooks.LocalServingHost = "127.0.0.1"
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, WebhookInstallOptions: webhooks}
	if os.Getenv("RAMPART_APISERVER_LOG") != "" {
		env.ControlPlane.GetAPIServer().Out, env.ControlPlane.GetAPIServer().Err = os.Stderr, os.Stderr
	}
	if len(apiServerFlags) > 0 {
		args := env.ControlPlane.GetAPIServer().Configure()
		for k, v := range apiServerFlags {
			args.Set(k, v)
		}
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	return &Cluster{Env: env, Config: cfg}, nil
}

// Stop stops the control plane.
func (c *Cluster) Stop() error { return c.Env.Stop() }

// Kubeconfig writes a kubeconfig for a user with the given groups into dir
// and returns its path. Groups ["system:masters"] is an administrator.
func (c *Cluster) Kubeconfig(dir, user string, groups ...string) (string, error) {
	u, err := c.Env.ControlPlane.AddUser(envtest.User{Name: user, Groups: groups}, nil)
	if err != nil {
		return "", fmt.Errorf("adding user %s: %w", user, err)
	}
	data, err := u.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, user+".kubeconfig")
	return path, os.WriteFile(path, data, 0o600)
}

// CommandLines are the command lines the control plane's kube-apiserver and
// etcd run with, read from /proc as ps shows them (the binary first): the
// recorded flags a test can hold a node's files to.
func (c *Cluster) CommandLines() (apiserver, etcd []string, err error) {
	u, err := url.Parse(c.Config.Host)
	if err != nil {
		return nil, nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, nil, err
	}
	var procs [][]string
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(data) == 0 {
			continue
		}
		procs = append(procs, strings.Split(strings.TrimRight(string(data), "\x00"), "\x00"))
	}
	etcdURL := ""
	for _, argv := range procs {
		if filepath.Base(argv[0]) != "kube-apiserver" {
			continue
		}
		for _, a := range argv {
			if a == "--secure-port="+u.Port() || a == "--secure-port" {
				apiserver = argv
			}
		}
		if apiserver != nil {
			for _, a := range argv {
				if v, ok := strings.CutPrefix(a, "--etcd-servers="); ok {
					etcdURL = v
				}
			}
			break
		}
	}
	if apiserver == nil || etcdURL == "" {
		return nil, nil, fmt.Errorf("no kube-apiserver with --secure-port=%s in /proc", u.Port())
	}
	for _, argv := range procs {
		if filepath.Base(argv[0]) != "etcd" {
			continue
		}
		for _, a := range argv {
			if strings.Contains(a, etcdURL) {
				return apiserver, argv, nil
			}
		}
	}
	return nil, nil, fmt.Errorf("no etcd serving %s in /proc", etcdURL)
}
