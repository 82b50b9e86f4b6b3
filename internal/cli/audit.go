package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	bolt "go.etcd.io/bbolt"
	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/deploy"
	"github.com/rampart-k8s/rampart/pkg/admission"
	"github.com/rampart-k8s/rampart/pkg/audit"
	"github.com/rampart-k8s/rampart/pkg/check"
)

func newAuditCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Detect threats in API-server audit logs",
	}
	cmd.AddCommand(newAuditDetectCmd(s), newAuditRulesCmd(s), newAuditServeCmd(s), newAuditWebhookConfigCmd(s), newAuditReplicaCmd(s), newAuditAlertsCmd(s),
		chartManifestsCmd(s, deploy.AuditChart, "rampart-audit", "Print the audit receiver's manifests (its Helm chart, rendered) for kubectl apply",
			`Print the manifests of the audit receiver (rampart audit serve as a StatefulSet
with its queue on a volume, a Service at a fixed cluster IP the API server
can reach, a NetworkPolicy), as helm template prints the chart the binary
carries (deploy/charts/rampart-audit). Set tls.existingSecret (its serving
certificate) and clientCA.existingSecret (the CA of the API server's client
certificate); docs/audit.md, "In the cluster".`,
			`  rampart audit manifests -n rampart --set service.clusterIP=10.96.0.250,tls.existingSecret=audit-tls,clientCA.existingSecret=apiserver-client-ca | kubectl apply -f -`))
	return cmd
}

// loadAuditRules is the built-in rules with the files given applied in
// order (lists appended, macros and rules redefined or switched off).
func loadAuditRules(files []string) ([]*audit.Rule, error) {
	rs := audit.Builtin()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, usageError("--rules: %v", err)
		}
		if err := rs.Add(f, data); err != nil {
			return nil, usageError("--rules: %v", err)
		}
	}
	rules, err := rs.Compile()
	if err != nil {
		return nil, usageError("%v", err)
	}
	return rules, nil
}

func newAuditDetectCmd(s *streams) *cobra.Command {
	var (
		rules     []string
		output    string
		failOn    string
		stateFile string
		intelFile []string
		follow    bool
		hook      webhookSink
	)
	cmd := &cobra.Command{
		Use:   "detect [FILE ...|-]",
		Short: "Read audit events (JSON lines or EventLists, plain or gzip) and print the alerts of the rules",
		Long: `Read audit.k8s.io/v1 events as the API server's log backend writes them
(one JSON Event per line), or Events and EventLists, plain or gzip, from the
files given or standard input, and print an alert for each rule an event
matches: Falco's k8s_audit detections as built-in rules (rampart audit rules
lists them), changed or extended with --rules files (docs/audit.md).

With --follow, the one file given is read, then followed as it grows and
is rotated (tail -F), until interrupted.

An event that cannot be read is reported with its file and line and costs
only itself. Exit code 1 when an alert reaches --fail-on, 2 when an event
could not be read.`,
		Example: `  rampart audit detect /var/log/kubernetes/audit.log
  rampart audit detect --follow /var/log/kubernetes/audit/audit.log --webhook https://hooks.slack.com/services/... --webhook-format slack
  zcat audit.log.1.gz | rampart audit detect - -o json --rules my-rules.yaml`,
		RunE: func(_ *cobra.Command, args []string) error {
			compiled, err := loadAuditRules(rules)
			if err != nil {
				return err
			}
			threshold, err := failOnSeverity(failOn)
			if err != nil {
				return err
			}
			if output != "text" && output != "json" {
				return usageError("-o: want text or json, got %q", output)
			}
			if len(args) == 0 {
				args = []string{"-"}
			}
			if follow && (len(args) != 1 || args[0] == "-") {
				return usageError("--follow follows one file")
			}
			ctx, stop := signal.NotifyContext(s.context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			send, flush, err := hook.start(ctx, s)
			if err != nil {
				return err
			}
			defer flush()
			if err := loadIntel(intelFile); err != nil {
				return err
			}
			d := audit.NewDetector(compiled)
			if stateFile != "" {
				// What the stateful rules learned on earlier logs: a key
				// seen then is not new now, a window goes on.
				db, err := bolt.Open(stateFile, 0o600, &bolt.Options{Timeout: 5 * time.Second})
				if err != nil {
					return usageError("--state: %v", err)
				}
				defer db.Close()
				if err := d.LoadState(db); err != nil {
					return usageError("--state: %v", err)
				}
				defer func() {
					if err := d.Checkpoint(db); err != nil {
						fmt.Fprintf(s.err, "rampart: --state: %v\n", err)
					}
				}()
			}
			w := bufio.NewWriter(s.out)
			defer w.Flush()
			enc := json.NewEncoder(w)
			var events, alerts, inputErrors int
			failed := false
			var buf []audit.Alert
			var r audit.Reader
			for _, name := range args {
				var in io.Reader
				display := name
				switch {
				case name == "-":
					in, display = s.in, "<stdin>"
				case follow:
					fl, err := audit.Follow(ctx, name, true)
					if err != nil {
						return usageError("%v", err)
					}
					defer fl.Close()
					in = fl
				default:
					f, err := os.Open(name)
					if err != nil {
						fmt.Fprintf(s.err, "rampart: %v\n", err)
						inputErrors++
						continue
					}
					defer f.Close()
					in = f
				}
				err := r.Read(display, in, func(e audit.Event) error {
					events++
					buf = d.Detect(e, buf[:0])
					send(buf)
					for _, a := range buf {
						alerts++
						if threshold != nil && a.Severity >= *threshold {
							failed = true
						}
						if output == "json" {
							if err := enc.Encode(a); err != nil {
								return err
							}
							continue
						}
						fmt.Fprintf(w, "%s %-8s %s: %s\n", a.Time.UTC().Format("2006-01-02T15:04:05Z"), a.Severity, a.Rule, a.Message)
					}
					if follow && len(buf) > 0 {
						return w.Flush() // as they come
					}
					return nil
				}, func(e audit.InputError) {
					inputErrors++
					fmt.Fprintf(s.err, "rampart: %v\n", e)
				})
				if err != nil {
					return &exitError{code: ExitError, err: err}
				}
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(s.err, "%d events, %d alerts, %d input errors\n", events, alerts, inputErrors)
			switch {
			case inputErrors > 0:
				return &exitError{code: ExitError}
			case failed:
				return &exitError{code: ExitFindings}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&rules, "rules", nil, "a rules file applied over the built-in rules (repeatable; later files win)")
	f.StringVarP(&output, "output", "o", "text", "text, or json (one alert per line)")
	f.StringVar(&failOn, "fail-on", "high", "exit 1 when an alert is at or above this severity: critical, high, medium, low, info, or none")
	f.StringVar(&stateFile, "state", "", "a file keeping what the stateful rules learned (first sightings, windows) from one run to the next")
	f.StringArrayVar(&intelFile, "intel", nil, "a threat intelligence list of addresses and CIDRs, one per line (repeatable)")
	f.BoolVar(&follow, "follow", false, "read the file, then follow it as it grows and is rotated, until interrupted")
	hook.flags(f)
	return cmd
}

// webhookSink sends alerts to --webhook in batches (up to 100, or what came
// in a second), from its own goroutine: a slow endpoint does not hold the
// reading; what it refuses is sent again, up to 5 times.
type webhookSink struct {
	url, format string
}

func (h *webhookSink) flags(f *pflag.FlagSet) {
	f.StringVar(&h.url, "webhook", "", "also POST the alerts to this URL (JSON array, or --webhook-format slack)")
	f.StringVar(&h.format, "webhook-format", "json", "json, or slack ({\"text\": ...}, for Slack and Mattermost incoming webhooks)")
}

func (h *webhookSink) start(ctx context.Context, s *streams) (send func([]audit.Alert), flush func(), err error) {
	if h.url == "" {
		return func([]audit.Alert) {}, func() {}, nil
	}
	if h.format != "json" && h.format != "slack" {
		return nil, nil, usageError("--webhook-format: want json or slack, got %q", h.format)
	}
	wh := &audit.Webhook{URL: h.url, Format: h.format}
	ch := make(chan []audit.Alert, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var batch []audit.Alert
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		post := func() {
			for attempt := 0; len(batch) > 0 && attempt < 5; attempt++ {
				if err := wh.Send(context.WithoutCancel(ctx), batch); err == nil {
					batch = batch[:0]
					return
				} else if attempt == 4 || errors.Is(err, audit.ErrRefused) {
					fmt.Fprintf(s.err, "rampart: --webhook: %v; %d alerts not sent\n", err, len(batch))
					batch = batch[:0]
					return
				}
				time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
			}
		}
		for {
			select {
			case a, ok := <-ch:
				if !ok {
					post()
					return
				}
				batch = append(batch, a...)
				if len(batch) >= 100 {
					post()
				}
			case <-tick.C:
				post()
			}
		}
	}()
	return func(a []audit.Alert) {
			if len(a) > 0 {
				ch <- append([]audit.Alert(nil), a...)
			}
		}, func() {
			close(ch)
			<-done
		}, nil
}

// loadIntel reads the threat intelligence lists into the rules' intel_ip.
func loadIntel(files []string) error {
	if len(files) == 0 {
		audit.SetIntel(nil)
		return nil
	}
	in, err := audit.ReadIntel(files...)
	if err != nil {
		return usageError("--intel: %v", err)
	}
	audit.SetIntel(in)
	return nil
}

func failOnSeverity(v string) (*check.Severity, error) {
	if v == "none" {
		return nil, nil
	}
	sev, err := check.ParseSeverity(v)
	if err != nil {
		return nil, usageError("--fail-on: %v", err)
	}
	return &sev, nil
}

func newAuditRulesCmd(s *streams) *cobra.Command {
	var (
		rules  []string
		output string
	)
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List the audit rules: the built-in ones with --rules files applied",
		RunE: func(_ *cobra.Command, _ []string) error {
			compiled, err := loadAuditRules(rules)
			if err != nil {
				return err
			}
			switch output {
			case "json":
				return writeJSON(s.out, compiled)
			case "text":
				tw := tabwriter.NewWriter(s.out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "RULE\tSEVERITY\tMITRE\tSOURCE")
				for _, r := range compiled {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Severity, strings.Join(r.MITRE, ","), r.Source)
				}
				return tw.Flush()
			}
			return usageError("-o: want text or json, got %q", output)
		},
	}
	cmd.Flags().StringArrayVar(&rules, "rules", nil, "a rules file applied over the built-in rules (repeatable)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	return cmd
}

func newAuditServeCmd(s *streams) *cobra.Command {
	var (
		listen, certFile, keyFile, clientCA, queuePath, outFile string
		anyClient                                               bool
		queueMax                                                int64
		rules, intelFiles                                       []string
		hook                                                    webhookSink
		natsURL                                                 string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the API server's audit webhook backend and detect as events arrive",
		Long: `Receive the batches of audit events the API server's webhook backend POSTs
(--audit-webhook-config-file; rampart audit webhook-config prints the file),
answer each once it is in a durable queue (--queue, a file), and detect
threats in the queue's batches in order, writing one JSON alert per line to
standard output or --output-file. When the queue holds --queue-max-bytes the
receiver answers 429 and the API server sends the batch again after a
backoff: nothing is dropped, memory stays bounded. /healthz and /metrics
(Prometheus) are served on the same address.`,
		Example: `  rampart audit serve --tls-cert-file tls.crt --tls-private-key-file tls.key --client-ca-file apiserver-client-ca.crt`,
		RunE: func(_ *cobra.Command, _ []string) error {
			if certFile == "" || keyFile == "" {
				return usageError("--tls-cert-file and --tls-private-key-file are required: the API server sends audit events over TLS")
			}
			if hook.format != "json" && hook.format != "slack" {
				return usageError("--webhook-format: want json or slack, got %q", hook.format)
			}
			if clientCA == "" && !anyClient {
				return usageError("--client-ca-file is required (the API server's client certificate: anyone else could post forged events or fill the queue); --allow-any-client to accept any client")
			}
			compiled, err := loadAuditRules(rules)
			if err != nil {
				return err
			}
			certs, err := admission.NewCertReloader(certFile, keyFile)
			if err != nil {
				return usageError("%v", err)
			}
			tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
			if clientCA != "" {
				pem, err := os.ReadFile(clientCA)
				if err != nil {
					return usageError("--client-ca-file: %v", err)
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return usageError("--client-ca-file: no certificate in %s", clientCA)
				}
				tlsConfig.ClientCAs, tlsConfig.ClientAuth = pool, tls.RequireAndVerifyClientCert
			}
			if natsURL != "" {
				return serveToNATS(s, natsURL, listen, queueMax, tlsConfig)
			}
			if err := loadIntel(intelFiles); err != nil {
				return err
			}
			q, err := audit.OpenQueue(queuePath, queueMax)
			if err != nil {
				return usageError("--queue: %v", err)
			}
			defer q.Close()
			d := audit.NewDetector(compiled)
			// The stateful rules' memory lives in the queue's file: read at
			// start, written with each batch's removal.
			if err := d.LoadState(q.DB()); err != nil {
				return usageError("--queue: %v", err)
			}
			out, closeOut, err := alertsOutput(s, outFile)
			if err != nil {
				return err
			}
			defer closeOut()
			m := audit.NewMetrics(q)
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return usageError("--listen: %v", err)
			}
			srv := &http.Server{Handler: (&audit.Receiver{Queue: q, Metrics: m}).Handler(), TLSConfig: tlsConfig,
				ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
			ctx, stop := signal.NotifyContext(s.context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			enc := json.NewEncoder(out)
			sync, _ := out.(interface{ Sync() error })
			processed := make(chan error, 1)
			go func() {
				var wh *audit.Webhook
				if hook.url != "" {
					wh = &audit.Webhook{URL: hook.url, Format: hook.format}
				}
				processed <- audit.Process(ctx, q, d, m, func(alerts []audit.Alert) error {
					if wh != nil {
						// Before the file: a failure holds the batch in the
						// queue and it is sent again; a refusal (a 4xx) would
						// be refused again, and is only said.
						if err := wh.Send(ctx, alerts); errors.Is(err, audit.ErrRefused) {
							fmt.Fprintf(s.err, "rampart: --webhook: %v; %d alerts only in the output\n", err, len(alerts))
						} else if err != nil {
							return err
						}
					}
					for _, a := range alerts {
						if err := enc.Encode(a); err != nil {
							return err
						}
					}
					if sync != nil && len(alerts) > 0 {
						return sync.Sync() // on disk before the batch leaves the queue
					}
					return nil
				}, func(e audit.InputError) { fmt.Fprintf(s.err, "rampart: %v\n", e) })
			}()
			go func() {
				tick := time.NewTicker(5 * time.Second)
				defer tick.Stop()
				seen := intelStamp(intelFiles)
				for n := 0; ; n++ {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					if n%6 == 5 { // the intelligence lists, every 30 s
						if now := intelStamp(intelFiles); now != seen {
							if err := loadIntel(intelFiles); err != nil {
								fmt.Fprintf(s.err, "rampart: --intel not reloaded, the previous lists stay: %v\n", err)
							} else {
								seen = now
							}
						}
					}
				}
			}()
			served := make(chan error, 1)
			go func() { served <- srv.ServeTLS(ln, "", "") }()
			fmt.Fprintf(s.err, "rampart audit receiver on %s (%d rules)\n", ln.Addr(), len(compiled))
			select {
			case err := <-served:
				return err
			case err := <-processed:
				if err != nil {
					return err
				}
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", ":8443", "address to serve on")
	f.StringVar(&certFile, "tls-cert-file", "", "serving certificate (PEM); read again when it changes")
	f.StringVar(&keyFile, "tls-private-key-file", "", "serving key (PEM)")
	f.StringVar(&clientCA, "client-ca-file", "", "accept only clients (the API server) with a certificate this CA signed (required unless --allow-any-client)")
	f.BoolVar(&anyClient, "allow-any-client", false, "accept batches from any client that reaches the address (a network policy must then keep others out)")
	f.StringVar(&queuePath, "queue", "rampart-audit-queue.db", "the durable queue's file")
	f.Int64Var(&queueMax, "queue-max-bytes", 256<<20, "the most the queue holds before the receiver answers 429")
	f.StringVar(&outFile, "output-file", "", "append the alerts (JSON lines) to this file instead of standard output")
	f.StringArrayVar(&rules, "rules", nil, "a rules file applied over the built-in rules (repeatable)")
	f.StringArrayVar(&intelFiles, "intel", nil, "a threat intelligence list of addresses and CIDRs, one per line (repeatable; read again when it changes)")
	f.StringVar(&natsURL, "nats", "", "publish the batches to NATS JetStream at this URL for `rampart audit replica` processes, instead of detecting here")
	hook.flags(f)
	return cmd
}

// serveToNATS is the receiver of a detection spread over processes: each
// batch is answered once JetStream has it (429 when the stream is full).
func serveToNATS(s *streams, url, listen string, maxBytes int64, tlsConfig *tls.Config) error {
	ctx, stop := signal.NotifyContext(s.context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	c, nc, err := audit.ConnectCluster(ctx, url, natsPartitions, maxBytes)
	if err != nil {
		return usageError("--nats: %v", err)
	}
	defer nc.Close()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return usageError("--listen: %v", err)
	}
	srv := &http.Server{Handler: (&audit.Receiver{Publish: func(b []byte) error { return c.Publish(ctx, b) }, Metrics: audit.NewMetrics(nil)}).Handler(),
		TLSConfig: tlsConfig, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	fmt.Fprintf(s.err, "rampart audit receiver on %s, publishing to %s\n", ln.Addr(), url)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// natsPartitions is the number of partitions of the stateful rules' keys:
// fixed, so that replicas started with any count agree on who owns what.
const natsPartitions = 64

func newAuditReplicaCmd(s *streams) *cobra.Command {
	var (
		natsURL           string
		index, replicas   int
		rules, intelFiles []string
	)
	cmd := &cobra.Command{
		Use:   "replica",
		Short: "Run one of the detector replicas sharing the batches `audit serve --nats` publishes",
		Long: `Detect over NATS JetStream with others: the batches are routed one at a time
(the stateless rules alert there), and each event a stateful rule matches
goes to the partition of the rule's key; this replica (--index of
--replicas) owns the partitions p with p mod replicas = index, keeps their
state in a JetStream key-value bucket, and goes on from it when started
again. Alerts go to the alerts stream (rampart audit alerts reads it), the
same with one replica or several. Start a replica's replacement once it
has stopped.`,
		RunE: func(_ *cobra.Command, _ []string) error {
			if natsURL == "" {
				return usageError("--nats is required")
			}
			compiled, err := loadAuditRules(rules)
			if err != nil {
				return err
			}
			if err := loadIntel(intelFiles); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(s.context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			c, nc, err := audit.ConnectCluster(ctx, natsURL, natsPartitions, 1<<30)
			if err != nil {
				return usageError("--nats: %v", err)
			}
			defer nc.Close()
			fmt.Fprintf(s.err, "rampart audit replica %d of %d on %s (%d rules)\n", index, replicas, natsURL, len(compiled))
			err = c.Replica(ctx, compiled, index, replicas, func(e audit.InputError) { fmt.Fprintf(s.err, "rampart: %v\n", e) })
			if err != nil {
				return usageError("%v", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&natsURL, "nats", "", "the NATS server (JetStream enabled)")
	f.IntVar(&index, "index", 0, "this replica's index, 0 to --replicas - 1 (a StatefulSet's ordinal)")
	f.IntVar(&replicas, "replicas", 1, "how many replicas share the work")
	f.StringArrayVar(&rules, "rules", nil, "a rules file applied over the built-in rules (repeatable; the same for every replica)")
	f.StringArrayVar(&intelFiles, "intel", nil, "a threat intelligence list (repeatable)")
	return cmd
}

func newAuditAlertsCmd(s *streams) *cobra.Command {
	var (
		natsURL, consumer, outFile string
		hook                       webhookSink
	)
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "Write the alerts of the replicas (the alerts stream) as JSON lines, and to --webhook",
		RunE: func(_ *cobra.Command, _ []string) error {
			if natsURL == "" {
				return usageError("--nats is required")
			}
			if hook.format != "json" && hook.format != "slack" {
				return usageError("--webhook-format: want json or slack, got %q", hook.format)
			}
			ctx, stop := signal.NotifyContext(s.context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			c, nc, err := audit.ConnectCluster(ctx, natsURL, natsPartitions, 1<<30)
			if err != nil {
				return usageError("--nats: %v", err)
			}
			defer nc.Close()
			out, closeOut, err := alertsOutput(s, outFile)
			if err != nil {
				return err
			}
			defer closeOut()
			enc := json.NewEncoder(out)
			var wh *audit.Webhook
			if hook.url != "" {
				wh = &audit.Webhook{URL: hook.url, Format: hook.format}
			}
			return c.Alerts(ctx, consumer, func(a audit.Alert) error {
				if wh != nil {
					if err := wh.Send(ctx, []audit.Alert{a}); errors.Is(err, audit.ErrRefused) {
						fmt.Fprintf(s.err, "rampart: --webhook: %v\n", err)
					} else if err != nil {
						return err
					}
				}
				return enc.Encode(a)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&natsURL, "nats", "", "the NATS server")
	f.StringVar(&consumer, "consumer", "rampart-alerts", "the durable consumer's name (one per destination)")
	f.StringVar(&outFile, "output-file", "", "append the alerts to this file instead of standard output")
	hook.flags(f)
	return cmd
}

// intelStamp is the files' sizes and times, to see a change.
func intelStamp(files []string) string {
	var b strings.Builder
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			fmt.Fprintf(&b, "%s %d %d;", f, st.Size(), st.ModTime().UnixNano())
		}
	}
	return b.String()
}

func newAuditWebhookConfigCmd(s *streams) *cobra.Command {
	var server, caFile, clientCert, clientKey string
	cmd := &cobra.Command{
		Use:   "webhook-config",
		Short: "Print the kubeconfig-format file of the API server's --audit-webhook-config-file",
		Example: `  rampart audit webhook-config --server https://rampart-audit.rampart.svc:8443/audit --ca-file ca.crt \
    > /etc/kubernetes/audit-webhook.yaml`,
		RunE: func(_ *cobra.Command, _ []string) error {
			if server == "" || caFile == "" {
				return usageError("--server and --ca-file are required")
			}
			ca, err := os.ReadFile(caFile)
			if err != nil {
				return usageError("--ca-file: %v", err)
			}
			user := map[string]any{}
			if clientCert != "" || clientKey != "" {
				cert, err := os.ReadFile(clientCert)
				if err != nil {
					return usageError("--client-certificate: %v", err)
				}
				key, err := os.ReadFile(clientKey)
				if err != nil {
					return usageError("--client-key: %v", err)
				}
				user["client-certificate-data"] = base64.StdEncoding.EncodeToString(cert)
				user["client-key-data"] = base64.StdEncoding.EncodeToString(key)
			}
			cfg := map[string]any{
				"apiVersion": "v1", "kind": "Config",
				"clusters":        []any{map[string]any{"name": "rampart-audit", "cluster": map[string]any{"server": server, "certificate-authority-data": base64.StdEncoding.EncodeToString(ca)}}},
				"users":           []any{map[string]any{"name": "kube-apiserver", "user": user}},
				"contexts":        []any{map[string]any{"name": "rampart-audit", "context": map[string]any{"cluster": "rampart-audit", "user": "kube-apiserver"}}},
				"current-context": "rampart-audit",
			}
			out, err := yaml.Marshal(cfg)
			if err != nil {
				return err
			}
			_, err = s.out.Write(out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "", "the receiver's URL as the API server reaches it (https://.../audit)")
	f.StringVar(&caFile, "ca-file", "", "the CA of the receiver's serving certificate")
	f.StringVar(&clientCert, "client-certificate", "", "the API server's client certificate, when the receiver has --client-ca-file")
	f.StringVar(&clientKey, "client-key", "", "its key")
	return cmd
}

// alertsOutput is where alerts go: --output-file (appended), else standard
// output.
func alertsOutput(s *streams, file string) (io.Writer, func(), error) {
	if file == "" {
		return s.out, func() {}, nil
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, usageError("--output-file: %v", err)
	}
	return f, func() { f.Close() }, nil
}
