package webhook

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampart-k8s/rampart/pkg/source"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// rampartBinary builds cmd/rampart once for the package's tests.
func rampartBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rampart-e2e-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "rampart")
		if out, err := exec.Command("go", "build", "-o", binPath, "../../../cmd/rampart").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// replica is one `rampart webhook serve` process.
type replica struct {
	cmd  *exec.Cmd
	addr string
	done chan error
	mu   sync.Mutex
	log  strings.Builder
}

// output is what the process wrote to its standard error so far.
func (r *replica) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.String()
}

var servingOn = regexp.MustCompile(`serving on (\S+)`)

func startReplica(t *testing.T, bin string, args ...string) *replica {
	t.Helper()
	r := &replica{done: make(chan error, 1)}
	r.cmd = exec.Command(bin, append([]string{"webhook", "serve", "--listen", "127.0.0.1:0"}, args...)...)
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			r.mu.Lock()
			r.log.WriteString(sc.Text() + "\n")
			r.mu.Unlock()
			if m := servingOn.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		r.done <- r.cmd.Wait()
	}()
	t.Cleanup(func() { _ = r.cmd.Process.Kill() })
	select {
	case r.addr = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatalf("the replica did not start:\n%s", r.output())
	}
	return r
}

// balancer stands for a Service and kube-proxy: it forwards each TCP
// connection (TLS passes through) to a replica its prober last saw ready,
// as the endpoints controller and kube-proxy do with a readiness probe.
// Connections already made stay with their replica, as conntrack keeps
// them.
type balancer struct {
	ln       net.Listener
	backends []string
	readyNow []atomic.Bool
	conns    []atomic.Int64 // connections made to each backend
	next     atomic.Uint64
}

func newBalancer(t *testing.T, backends []string, period time.Duration) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln, backends: backends, readyNow: make([]atomic.Bool, len(backends)), conns: make([]atomic.Int64, len(backends))}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); _ = ln.Close() })
	probe := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}}
	for i, addr := range backends {
		go func() {
			for ctx.Err() == nil {
				ok := false
				if resp, err := probe.Get("https://" + addr + "/readyz"); err == nil {
					ok = resp.StatusCode == http.StatusOK
					resp.Body.Close()
				}
				b.readyNow[i].Store(ok)
				select {
				case <-ctx.Done():
				case <-time.After(period):
				}
			}
		}()
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go b.forward(c)
		}
	}()
	return b
}

func (b *balancer) forward(c net.Conn) {
	defer c.Close()
	n := uint64(len(b.backends))
	for k := uint64(0); k < n; k++ {
		i := (b.next.Add(1) + k) % n
		if !b.readyNow[i].Load() {
			continue
		}
		up, err := net.Dial("tcp", b.backends[i])
		if err != nil {
			return // as a Service does: the connection fails
		}
		b.conns[i].Add(1)
		defer up.Close()
		go func() { _, _ = io.Copy(up, c); up.(*net.TCPConn).CloseWrite() }()
		_, _ = io.Copy(c, up)
		return
	}
	// No replica ready: no endpoint, the connection is refused.
}

// ready is the number of backends the prober last saw ready.
func (b *balancer) ready() int {
	n := 0
	for i := range b.readyNow {
		if b.readyNow[i].Load() {
			n++
		}
	}
	return n
}

// TestHighAvailability: three webhook processes behind a Service, registered
// with the chart's ValidatingWebhookConfiguration (failurePolicy Fail). One
// of them is stopped (SIGTERM, as the kubelet stops a pod) in the middle of
// 1,000 pod creates: every create gets the webhook's answer, none fails.
// With every replica gone, pods are refused in an ordinary namespace and
// still admitted in kube-system and the webhook's own namespace.
func TestHighAvailability(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three webhook processes")
	}
	bin := rampartBinary(t)
	w := cluster.Env.WebhookInstallOptions
	certs := []string{"--tls-cert-file", filepath.Join(w.LocalServingCertDir, "tls.crt"), "--tls-private-key-file", filepath.Join(w.LocalServingCertDir, "tls.key"),
		"--enforce", "high", "--warn", "none", "--audit", "none", "--drain", "5s"}
	var replicas []*replica
	var addrs []string
	for i := 0; i < 3; i++ {
		r := startReplica(t, bin, certs...)
		replicas = append(replicas, r)
		addrs = append(addrs, r.addr)
	}
	lb := newBalancer(t, addrs, 200*time.Millisecond)
	within(t, 10*time.Second, func() error {
		if lb.ready() != len(addrs) {
			return errors.New("the replicas are not ready")
		}
		return nil
	})

	// The chart's webhook configuration, its Service replaced by the
	// balancer's address (the API server here has no Service network).
	objs, errs := source.RenderChart(chart, source.HelmOptions{Namespace: "rampart"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var vwc *admissionregistrationv1.ValidatingWebhookConfiguration
	for _, o := range objs {
		if v, ok := o.Typed.(*admissionregistrationv1.ValidatingWebhookConfiguration); ok {
			vwc = v.DeepCopy()
		}
	}
	if vwc == nil {
		t.Fatal("the chart has no ValidatingWebhookConfiguration")
	}
	vwc.Name = "rampart-ha"
	vwc.Annotations = nil
	url := "https://" + lb.ln.Addr().String() + "/validate"
	vwc.Webhooks[0].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: w.LocalServingCAData}
	if *vwc.Webhooks[0].FailurePolicy != admissionregistrationv1.Fail {
		t.Fatalf("the chart's failurePolicy is %s, want Fail", *vwc.Webhooks[0].FailurePolicy)
	}
	ctx := context.Background()
	cfg := rest.CopyConfig(cluster.Config)
	cfg.QPS, cfg.Burst = -1, 0
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"ha", "rampart"} {
		namespace(t, c, ns)
	}
	if err := c.Create(ctx, vwc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(ctx, vwc) })

	// Pods labelled rampart-test-skip are left out by the package's
	// in-process webhook: only the replicas judge them.
	skip := map[string]string{"rampart-test-skip": "1"}
	create := func(ns string, i int) error {
		p := podObject(t, i%2 == 1, skip)
		p.SetNamespace(ns)
		p.SetName(fmt.Sprintf("p-%d", i))
		return c.Create(ctx, p)
	}
	// The webhook configuration takes effect when the API server's
	// informer has it: wait until a privileged pod is denied.
	within(t, 10*time.Second, func() error {
		if err := create("ha", 1_000_001); err == nil || !strings.Contains(err.Error(), "denied the request") {
			return fmt.Errorf("not judged yet: %v", err)
		}
		return nil
	})

	// Paced (about 90 creates a second) so that the stream outlasts the
	// stopped replica's 5-second drain: the API server must move to another.
	const total, workers, killAt = 1000, 4, 300
	var started atomic.Int64
	var failures []string
	var mu sync.Mutex
	var allowed, denied atomic.Int64
	var wg sync.WaitGroup
	killed := -1
	killOnce := sync.Once{}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(started.Add(1)) - 1
				if i >= total {
					return
				}
				if i == killAt {
					// Stop the replica holding the most connections.
					killOnce.Do(func() {
						killed = 0
						for k := range lb.conns {
							if lb.conns[k].Load() > lb.conns[killed].Load() {
								killed = k
							}
						}
						_ = replicas[killed].cmd.Process.Signal(syscall.SIGTERM)
					})
				}
				err := create("ha", i)
				time.Sleep(40 * time.Millisecond)
				switch {
				case err == nil && i%2 == 0:
					allowed.Add(1)
				case err != nil && i%2 == 1 && strings.Contains(err.Error(), "denied the request") && strings.Contains(err.Error(), "privileged"):
					denied.Add(1)
				default:
					mu.Lock()
					failures = append(failures, fmt.Sprintf("pod %d: %v", i, err))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-replicas[killed].done:
		if err != nil {
			t.Errorf("the stopped replica exited with %v:\n%s", err, replicas[killed].output())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the stopped replica did not exit")
	}
	if len(failures) > 0 {
		t.Fatalf("%d of %d creates failed, e.g.:\n%s", len(failures), total, strings.Join(failures[:min(5, len(failures))], "\n"))
	}
	t.Logf("%d allowed, %d denied by the webhook; replica %d stopped after %d of its connections; connections per replica %d/%d/%d",
		allowed.Load(), denied.Load(), killed, lb.conns[killed].Load(), lb.conns[0].Load(), lb.conns[1].Load(), lb.conns[2].Load())
	if allowed.Load() != total/2 || denied.Load() != total/2 {
		t.Fatalf("allowed %d, denied %d; want %d each", allowed.Load(), denied.Load(), total/2)
	}
	others := int64(0)
	for k := range lb.conns {
		if k != killed {
			others += lb.conns[k].Load()
		}
	}
	if others == 0 {
		t.Fatal("no connection reached another replica: the stream ended before the stopped one")
	}

	// Every replica gone: failurePolicy Fail refuses, except where the
	// chart's namespaceSelector leaves the webhook out.
	for i, r := range replicas { // both at once: each drains for 5 s
		if i != killed {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for i, r := range replicas {
		if i != killed {
			<-r.done
		}
	}
	within(t, 10*time.Second, func() error {
		if lb.ready() == 0 {
			return nil
		}
		return errors.New("a replica still answers")
	})
	for _, tc := range []struct {
		ns     string
		admits bool
	}{{"ha", false}, {"kube-system", true}, {"rampart", true}} {
		err := create(tc.ns, 2_000_000)
		if tc.admits && err != nil {
			t.Errorf("%s: %v, want admitted with no replica", tc.ns, err)
		}
		if err == nil {
			p := podObject(t, false, nil)
			p.SetNamespace(tc.ns)
			p.SetName("p-2000000")
			_ = c.Delete(ctx, p) // the package's tests may run again (-count)
		}
		if !tc.admits && (err == nil || !strings.Contains(err.Error(), "failed calling webhook")) {
			t.Errorf("%s: %v, want refused (failurePolicy Fail)", tc.ns, err)
		}
	}
}
