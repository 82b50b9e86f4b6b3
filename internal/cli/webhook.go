package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/deploy"
	"github.com/rampart-k8s/rampart/pkg/admission"
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/fix"
	"github.com/rampart-k8s/rampart/pkg/scan"
	"github.com/rampart-k8s/rampart/pkg/source"
)

type webhookOptions struct {
	listen, certFile, keyFile, config string
	enforce, warn, audit              string
	pssLevel                          string
	drain                             time.Duration
	clusterContext                    bool
	cl                                source.ClusterOptions
	changed                           map[string]bool // flags given on the command line
	background                        bool
	remediate                         bool
	certs                             admission.SelfCerts
	manageCerts                       bool
	service                           string
	certHosts                         []string
	reload                            time.Duration
	lease                             string
}

func newWebhookCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Judge objects at admission with the scanner's catalog",
	}
	o := &webhookOptions{}
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve the admission webhook (AdmissionReview v1): /validate and /mutate",
		Long: `Serve /validate and /mutate (AdmissionReview v1), /healthz, /readyz and
/metrics over TLS.

Each CREATE and UPDATE is judged with the catalog, as scan judges a file:
findings at or above --enforce deny the request (the message names each
finding and its field), at or above --warn come back as warnings, at or
above --audit as an audit annotation. An UPDATE is judged on what it brings:
findings the object already had do not count. The object's own ignore
annotations and the configuration's exceptions apply. The certificate files
are read again when they change; with --manage-certs the webhook makes and
renews its own CA and certificate instead, kept in a Secret all replicas
share, and writes the CA into its webhook configurations. On SIGTERM, /readyz fails at once and the
server drains for --drain before it stops.

/mutate (with --cluster-context) makes the catalog's non-breaking fixes as a
JSONPatch for objects in namespaces labelled rampart.dev/mutate=true; the
patched object is judged again, and a second admission patches nothing.`,
		Example: `  rampart webhook serve --tls-cert-file tls.crt --tls-private-key-file tls.key --enforce high --warn medium`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.changed = map[string]bool{}
			for _, n := range []string{"enforce", "warn", "audit"} {
				o.changed[n] = cmd.Flags().Changed(n)
			}
			return runWebhook(s, o)
		},
	}
	f := serve.Flags()
	f.StringVar(&o.listen, "listen", ":8443", "address to serve on")
	f.StringVar(&o.certFile, "tls-cert-file", "", "serving certificate (PEM); read again when it changes")
	f.StringVar(&o.keyFile, "tls-private-key-file", "", "serving key (PEM); read again when it changes")
	f.BoolVar(&o.manageCerts, "manage-certs", false, "make and renew the CA and the serving certificate (instead of --tls-cert-file): kept in the Secret --certs-secret, the CA written into the webhook configurations --webhook-configurations")
	f.StringVar(&o.certs.Secret, "certs-secret", "rampart-tls", "with --manage-certs: the Secret (in --namespace) that holds the CA and the serving certificate")
	f.StringVar(&o.certs.Namespace, "namespace", "", "with --manage-certs: the webhook's namespace (default: $POD_NAMESPACE, else the service account's, else rampart)")
	f.StringVar(&o.service, "service", "rampart", "with --manage-certs: the Service the API server calls; its DNS names are the certificate's")
	f.StringSliceVar(&o.certHosts, "cert-hosts", nil, "with --manage-certs: more names or IP addresses for the serving certificate")
	f.StringSliceVar(&o.certs.Webhooks, "webhook-configurations", []string{"rampart"}, "with --manage-certs: the Validating and MutatingWebhookConfigurations that get the CA bundle")
	f.DurationVar(&o.certs.CertValidity, "cert-validity", 365*24*time.Hour, "with --manage-certs: life of a serving certificate (renewed with a third left)")
	f.DurationVar(&o.certs.CAValidity, "ca-validity", 10*365*24*time.Hour, "with --manage-certs: life of a CA (replaced with a third left)")
	f.StringVar(&o.config, "config", "", "configuration file (.rampart.yaml): checks, exceptions, allowed registries; read again when it changes")
	f.DurationVar(&o.reload, "config-check-interval", 5*time.Second, "how often --config is looked at for changes")
	f.StringVar(&o.enforce, "enforce", "high", "lowest severity that denies a request: critical, high, medium, low, info, or none")
	f.StringVar(&o.warn, "warn", "medium", "lowest severity returned as a warning, or none")
	f.StringVar(&o.audit, "audit", "low", "lowest severity recorded in an audit annotation, or none")
	f.StringVar(&o.pssLevel, "pss-level", "restricted", "Pod Security Standards level: baseline or restricted")
	f.DurationVar(&o.drain, "drain", 5*time.Second, "time to keep serving after SIGTERM, not ready, so the API server stops sending")
	f.BoolVar(&o.clusterContext, "cluster-context", false, "read the context the checks need (Namespaces and their rampart.dev/enforce|warn|audit labels, NetworkPolicies, ServiceAccounts, bindings) from the cluster through informers; off judges each request alone")
	f.StringVar(&o.cl.Kubeconfig, "kubeconfig", "", "with --cluster-context or --manage-certs: kubeconfig file (default: the in-cluster config, KUBECONFIG, ~/.kube/config)")
	f.StringVar(&o.cl.Context, "context", "", "with --cluster-context or --manage-certs: kubeconfig context to use")
	f.BoolVar(&o.remediate, "remediate", false, "with --background: scale to zero the Deployments, StatefulSets and ReplicaSets with findings at or above the enforce severity in namespaces labelled rampart.dev/remediate=scale-to-zero (off: only annotate what would be done)")
	f.StringVar(&o.lease, "background-lease", "rampart-background", "with --background: the Lease (in the webhook's namespace) that elects the one replica that judges and remediates")
	f.BoolVar(&o.background, "background", false, "with --cluster-context: also keep a Report (openreports.io/v1alpha1) of the findings on the running workloads in each namespace, updated as they change")
	cmd.AddCommand(serve, newWebhookManifestsCmd(s))
	return cmd
}

func newWebhookManifestsCmd(s *streams) *cobra.Command {
	return chartManifestsCmd(s, deploy.Chart, "rampart", "Print the webhook's manifests (its Helm chart, rendered) for kubectl apply",
		`Print the manifests of the admission webhook, as helm template prints the chart
the binary carries (deploy/charts/rampart), for clusters installed without
Helm: kubectl apply -f the output. -n is the namespace to install into; the
chart's values (docs/admission.md) are set with --set and -f.`,
		`  rampart webhook manifests -n rampart --set mutate.enabled=true | kubectl apply -f -`)
}

// chartManifestsCmd is a `manifests` command: a chart the binary carries,
// rendered as helm template renders it.
func chartManifestsCmd(s *streams, chart fs.FS, name, short, long, example string) *cobra.Command {
	var h source.HelmOptions
	cmd := &cobra.Command{
		Use:     "manifests",
		Short:   short,
		Long:    long,
		Example: example,
		RunE: func(_ *cobra.Command, _ []string) error {
			dir, err := os.MkdirTemp("", "rampart-chart-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			if err := os.CopyFS(dir, chart); err != nil {
				return err
			}
			if h.Namespace == "" {
				h.Namespace = "rampart"
			}
			if h.ReleaseName == "" {
				h.ReleaseName = name
			}
			text, errs := source.RenderChartText(filepath.Join(dir, "charts", name), h)
			if len(errs) > 0 {
				msgs := make([]string, 0, len(errs))
				for _, e := range errs {
					msgs = append(msgs, strings.ReplaceAll(e.Message, dir+string(filepath.Separator), ""))
				}
				return usageError("%s", strings.Join(msgs, "\n"))
			}
			_, err = io.WriteString(s.out, text)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&h.Namespace, "namespace", "n", "rampart", "the namespace to install into")
	f.StringArrayVarP(&h.ValueFiles, "values", "f", nil, "a values file (repeatable; later files win)")
	f.StringArrayVar(&h.Set, "set", nil, "set a chart value, key=value (repeatable)")
	return cmd
}

func severityFlag(name, v string) (*check.Severity, error) {
	if v == "none" {
		return nil, nil
	}
	sev, err := check.ParseSeverity(v)
	if err != nil {
		return nil, usageError("--%s: %v", name, err)
	}
	return &sev, nil
}

func runWebhook(s *streams, o *webhookOptions) error {
	if (o.certFile == "" || o.keyFile == "") == !o.manageCerts {
		return usageError("want --tls-cert-file and --tls-private-key-file, or --manage-certs: the API server calls webhooks over TLS only")
	}
	if o.manageCerts && (o.certs.CertValidity <= 0 || o.certs.CAValidity < 2*o.certs.CertValidity) {
		return usageError("--cert-validity must be positive and at most half of --ca-validity")
	}
	level, err := api.ParseLevel(o.pssLevel)
	if err != nil || level == api.LevelPrivileged {
		return usageError("--pss-level: want baseline or restricted, got %q", o.pssLevel)
	}
	pss := api.LevelVersion{Level: level, Version: api.LatestVersion()}
	var configSeen []byte // what --config held before it was read: a change after this is reloaded
	if o.config != "" {
		configSeen, _ = os.ReadFile(o.config)
	}
	ropts, err := reviewerOptions(o, pss)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(s.context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	if o.manageCerts {
		sc, err := startSelfCerts(ctx, o)
		if err != nil {
			return err
		}
		getCertificate = sc.GetCertificate
	} else {
		certs, err := admission.NewCertReloader(o.certFile, o.keyFile)
		if err != nil {
			return usageError("%v", err)
		}
		getCertificate = certs.GetCertificate
	}
	var clusterCfg *rest.Config
	var clusterCS kubernetes.Interface
	if o.clusterContext {
		cfg, _, err := source.Config(o.cl)
		if err != nil {
			return usageError("%v", err)
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return usageError("%v", err)
		}
		cc := admission.NewClusterContext(cs)
		// The informers live as long as the server; only the first sync's
		// wait is bounded (the startup probe allows two minutes).
		if err = cc.Start(ctx, time.Minute); err != nil {
			return fmt.Errorf("--cluster-context: %w", err)
		}
		ropts.Context = cc
		clusterCfg = cfg
		clusterCS = cs
	}
	if o.background && !o.clusterContext {
		return usageError("--background needs --cluster-context")
	}
	reviewer := admission.NewReviewer(ropts)
	var comp *admission.Compliance
	if o.background {
		comp, err = admission.NewCompliance(clusterCfg, clusterCS, reviewer, ropts.Context.(*admission.ClusterContext))
		if err != nil {
			return fmt.Errorf("--background: %w", err)
		}
		comp.Remediate = o.remediate
		comp.Start(ctx)
		host, _ := os.Hostname()
		go comp.RunAsLeader(ctx, clusterCS, podNamespace(), o.lease, fmt.Sprintf("%s-%d", host, os.Getpid()))
	}
	admission.TuneGC()
	handler := admission.NewHandler(reviewer, admission.NewMetrics())
	if o.config != "" {
		// A ConfigMap mounted as the file changes under the running pod:
		// the next requests and the reports follow it.
		go watchConfig(ctx, o.config, configSeen, o.reload, func() {
			next, err := reviewerOptions(o, pss)
			if err != nil {
				slog.Error("configuration not reloaded: the previous one stays", "file", o.config, "error", err)
				return
			}
			next.Context = ropts.Context
			r := admission.NewReviewer(next)
			handler.SetReviewer(r)
			if comp != nil {
				comp.SetReviewer(r)
			}
			slog.Info("configuration reloaded", "file", o.config, "checks", len(next.Checks))
		})
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return usageError("--listen: %v", err)
	}
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: getCertificate},
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       90 * time.Second,
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	fmt.Fprintf(s.err, "rampart webhook serving on %s (%d checks)\n", ln.Addr(), len(ropts.Checks))
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	slog.Info("draining", "for", o.drain)
	handler.SetReady(false)
	time.Sleep(o.drain)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startSelfCerts makes or reads the certificates (retrying for a minute: the
// startup probe waits) and keeps them current until ctx ends.
func startSelfCerts(ctx context.Context, o *webhookOptions) (*admission.SelfCerts, error) {
	cfg, _, err := source.Config(o.cl)
	if err != nil {
		return nil, usageError("--manage-certs: %v", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, usageError("--manage-certs: %v", err)
	}
	sc := &o.certs
	sc.Client = cs
	if sc.Namespace == "" {
		sc.Namespace = podNamespace()
	}
	svc := o.service
	sc.Hosts = append([]string{svc + "." + sc.Namespace + ".svc", svc + "." + sc.Namespace + ".svc.cluster.local"}, o.certHosts...)
	deadline := time.Now().Add(time.Minute)
	for {
		err := sc.Reconcile(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("--manage-certs: %w", err)
		}
		slog.Warn("serving certificate not ready", "error", err)
		time.Sleep(2 * time.Second)
	}
	go func() { _ = sc.Run(ctx) }()
	return sc, nil
}

// podNamespace is the namespace the webhook runs in: $POD_NAMESPACE, else
// its service account's, else rampart.
func podNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b))
	}
	return "rampart"
}

// reviewerOptions reads the configuration (o.config) into what the
// reviewer judges with: the checks it selects, their options, its
// exemptions and its admission severities unless a flag says otherwise.
func reviewerOptions(o *webhookOptions, pss api.LevelVersion) (admission.Options, error) {
	plan, err := scan.New(scan.Options{Paths: []string{"."}, ConfigFile: o.config, PSS: pss})
	if err != nil {
		return admission.Options{}, usageError("%v", err)
	}
	var modes [3]*check.Severity
	ac := plan.Config.Admission
	for i, m := range []struct{ name, flag, config string }{{"enforce", o.enforce, ac.Enforce}, {"warn", o.warn, ac.Warn}, {"audit", o.audit, ac.Audit}} {
		v := m.flag
		if m.config != "" && !o.changed[m.name] {
			v = m.config
		}
		if modes[i], err = severityFlag(m.name, v); err != nil {
			return admission.Options{}, err
		}
	}
	eopts := plan.Engine
	if eopts.Resources, err = fix.ParseResources(plan.Config.Fix.DefaultResources); err != nil {
		return admission.Options{}, usageError("invalid configuration: fix.defaultResources: %v", err) // the values /mutate gives missing requests and limits
	}
	return admission.Options{Checks: plan.Checks, Engine: eopts, Enforce: modes[0], Warn: modes[1], Audit: modes[2], Exemptions: ac.Exemptions}, nil
}

// watchConfig calls changed when the contents of file differ from last
// (what was read before the configuration in use), looking every interval (a mounted ConfigMap is replaced through a symbolic link:
// the contents are compared, not the times).
func watchConfig(ctx context.Context, file string, last []byte, interval time.Duration, changed func()) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, err := os.ReadFile(file)
		if err != nil || bytes.Equal(now, last) {
			continue
		}
		last = now
		changed()
	}
}
