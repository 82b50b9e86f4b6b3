// Command webhookload measures the admission webhook under load, in one
// process on 127.0.0.1: the handler `rampart webhook serve` runs (whole
// catalog, TLS with a certificate made here), and the vegeta library sending
// AdmissionReviews of the catalog's pod-running fixtures (compliant and
// not) at fixed rates for a fixed time. It prints latency percentiles and
// the success ratio per rate. Bounded: at most -duration per rate.
//
// Each rate runs -runs times (idle wake-ups on a virtual machine move the
// slowest answers at low rates from run to run); the last line per rate is
// the median of the runs' percentiles.
//
//	go run ./bench/webhookload [-rates 200,1000] [-duration 10s] [-runs 3]
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/pod-security-admission/api"
	"sigs.k8s.io/yaml"

	"github.com/rampart-k8s/rampart/internal/testcert"
	"github.com/rampart-k8s/rampart/pkg/admission"
	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

func main() {
	rates := flag.String("rates", "200,1000", "requests per second, comma-separated")
	duration := flag.Duration("duration", 10*time.Second, "how long each rate runs")
	runs := flag.Int("runs", 3, "runs per rate")
	flag.Parse()
	if err := run(*rates, *duration, max(1, *runs)); err != nil {
		fmt.Fprintln(os.Stderr, "webhookload:", err)
		os.Exit(1)
	}
}

func run(rates string, duration time.Duration, runs int) error {
	admission.TuneGC() // as rampart webhook serve runs
	ca, err := testcert.NewCA()
	if err != nil {
		return err
	}
	serving, err := ca.Serving("127.0.0.1")
	if err != nil {
		return err
	}
	pool := ca.Pool()
	pair, err := tls.X509KeyPair(serving.CertPEM, serving.KeyPEM)
	if err != nil {
		return err
	}
	high, medium, low := check.High, check.Medium, check.Low
	reviewer := admission.NewReviewer(admission.Options{Checks: checks.Builtin(),
		Engine:  engine.Options{PSS: api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}},
		Enforce: &high, Warn: &medium, Audit: &low})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: admission.NewHandler(reviewer, admission.NewMetrics()), ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	defer srv.Close()

	targets, err := fixtureTargets("https://" + ln.Addr().String() + "/validate")
	if err != nil {
		return err
	}
	fmt.Printf("%d checks; %d distinct requests (the catalog's single-object fixtures); %d s per rate; 127.0.0.1, TLS\n",
		len(checks.Builtin()), len(targets), int(duration.Seconds()))
	// Warm up (TLS sessions, caches), not counted.
	warm := vegeta.NewAttacker(vegeta.TLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}), vegeta.KeepAlive(true))
	for range warm.Attack(vegeta.NewStaticTargeter(targets...), vegeta.Rate{Freq: 200, Per: time.Second}, 2*time.Second, "warm-up") {
	}
	fmt.Printf("%8s %8s %8s %8s %8s %8s %9s\n", "req/s", "p50", "p95", "p99", "max", "success", "throughput")
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
	for _, r := range strings.Split(rates, ",") {
		freq, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || freq <= 0 {
			return fmt.Errorf("bad rate %q", r)
		}
		var p50, p95, p99, worst []time.Duration
		for range runs {
			attacker := vegeta.NewAttacker(vegeta.TLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}), vegeta.KeepAlive(true), vegeta.Timeout(5*time.Second))
			var m vegeta.Metrics
			for res := range attacker.Attack(vegeta.NewStaticTargeter(targets...), vegeta.Rate{Freq: freq, Per: time.Second}, duration, r) {
				m.Add(res)
			}
			m.Close()
			fmt.Printf("%8d %8s %8s %8s %8s %7.1f%% %9.0f\n", freq, ms(m.Latencies.P50), ms(m.Latencies.P95), ms(m.Latencies.P99), ms(m.Latencies.Max), m.Success*100, m.Throughput)
			p50, p95, p99, worst = append(p50, m.Latencies.P50), append(p95, m.Latencies.P95), append(p99, m.Latencies.P99), append(worst, m.Latencies.Max)
		}
		if runs > 1 {
			med := func(ds []time.Duration) string { slices.Sort(ds); return ms(ds[len(ds)/2]) }
			fmt.Printf("%8s %8s %8s %8s %8s   (median of %d runs at %d req/s)\n", "median", med(p50), med(p95), med(p99), med(worst), runs, freq)
		}
	}
	return nil
}

// fixtureTargets are AdmissionReviews of the catalog's single-object
// fixtures that run a pod.
func fixtureTargets(url string) ([]vegeta.Target, error) {
	paths, _ := filepath.Glob("pkg/checks/testdata/*/*.yaml")
	if len(paths) == 0 {
		return nil, fmt.Errorf("run from the repository root")
	}
	var out []vegeta.Target
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		objs, errs := manifest.Parse(p, data)
		if len(errs) > 0 || len(objs) != 1 || objs[0].Kind == "" {
			continue
		}
		raw, err := yaml.YAMLToJSON(data)
		if err != nil {
			continue
		}
		body, err := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{UID: types.UID("load-" + strconv.Itoa(i)), Operation: admissionv1.Create, Namespace: "load",
				Object: runtime.RawExtension{Raw: raw}},
		})
		if err != nil {
			return nil, err
		}
		out = append(out, vegeta.Target{Method: http.MethodPost, URL: url, Body: body, Header: http.Header{"Content-Type": {"application/json"}}})
	}
	return out, nil
}
