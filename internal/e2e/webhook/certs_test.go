package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rampart-k8s/rampart/pkg/admission"
	"github.com/rampart-k8s/rampart/pkg/source"
)

// TestSelfManagedCertificates installs the chart's default certificate
// set-up: two replicas with the container arguments and the RBAC the
// chart renders (as its service account), and the chart's
// ValidatingWebhookConfiguration with no CA bundle. The replicas make the
// CA and the certificate, share them through the Secret, and write the CA
// into the configuration; the API server then calls them. With lives cut
// to seconds (a 12 s certificate, a 30 s CA), pods are created for 25 s,
// across certificate renewals and a CA replacement: every create gets the
// webhook's answer.
func TestSelfManagedCertificates(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs two webhook processes")
	}
	const release, ns = "rampart-certs", "rampart-certs"
	bin := rampartBinary(t)
	ctx := context.Background()
	cfg := rest.CopyConfig(cluster.Config)
	cfg.QPS, cfg.Burst = -1, 0
	cfg.WarningHandler = rest.NoWarnings{} // the webhook's warnings on compliant pods
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	namespace(t, c, ns)
	namespace(t, c, "certs-judged")

	objs, errs := source.RenderChart(chart, source.HelmOptions{Namespace: ns, ReleaseName: release})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var args []string
	var vwc *admissionregistrationv1.ValidatingWebhookConfiguration
	for _, o := range objs {
		switch v := o.Typed.(type) {
		case *appsv1.Deployment:
			args = v.Spec.Template.Spec.Containers[0].Args
		case *admissionregistrationv1.ValidatingWebhookConfiguration:
			vwc = v.DeepCopy()
		case *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding, *rbacv1.Role, *rbacv1.RoleBinding:
			obj := v.(client.Object)
			if err := c.Create(ctx, obj); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Delete(ctx, obj) })
		}
	}
	if vwc == nil || args == nil {
		t.Fatal("the chart has no Deployment or no ValidatingWebhookConfiguration")
	}
	if len(vwc.Webhooks[0].ClientConfig.CABundle) != 0 {
		t.Fatal("the chart sets a CA bundle: the webhook is to write it")
	}
	kubeconfig, err := cluster.Kubeconfig(t.TempDir(), "system:serviceaccount:"+ns+":"+release)
	if err != nil {
		t.Fatal(err)
	}
	// The chart's arguments, less what a pod has and a test process has
	// not (the listen port, the mounted config file), plus the test's.
	var flags []string
	for _, a := range args[2:] { // after "webhook serve"
		if !strings.HasPrefix(a, "--listen") && !strings.HasPrefix(a, "--config") {
			flags = append(flags, a)
		}
	}
	if !strings.Contains(strings.Join(flags, " "), "--manage-certs") {
		t.Fatalf("the chart's default arguments do not manage certificates: %v", flags)
	}
	flags = append(flags, "--kubeconfig", kubeconfig, "--namespace", ns, "--cert-hosts", "127.0.0.1",
		"--cert-validity", "12s", "--ca-validity", "30s", "--drain", "0s")
	var addrs []string
	for range 2 {
		addrs = append(addrs, startReplica(t, bin, flags...).addr)
	}
	lb := newBalancer(t, addrs, 200*time.Millisecond)
	url := "https://" + lb.ln.Addr().String() + "/validate"
	vwc.Webhooks[0].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url}
	// Only this test's namespace: other tests run while the CA is missing.
	vwc.Webhooks[0].NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "certs-judged"}}
	if err := c.Create(ctx, vwc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(ctx, vwc) })

	// Watch what the Secret goes through.
	var mu sync.Mutex
	signers, servings := map[string]bool{}, map[string]bool{}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		for watchCtx.Err() == nil {
			if sec, err := cs.CoreV1().Secrets(ns).Get(watchCtx, release+"-tls", metav1.GetOptions{}); err == nil {
				mu.Lock()
				signers[string(sec.Data["signer.crt"])] = true
				servings[string(sec.Data[corev1.TLSCertKey])] = true
				mu.Unlock()
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	within(t, 20*time.Second, func() error {
		v, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, vwc.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(v.Webhooks[0].ClientConfig.CABundle) == 0 {
			return errors.New("no CA bundle written yet")
		}
		return nil
	})
	skip := map[string]string{"rampart-test-skip": "1"} // the package's in-process webhook leaves these alone
	create := func(i int) error {
		p := podObject(t, i%2 == 1, skip)
		p.SetNamespace("certs-judged")
		p.SetName(fmt.Sprintf("p-%d", i))
		return c.Create(ctx, p)
	}
	within(t, 10*time.Second, func() error {
		if err := create(1_000_001); err == nil || !strings.Contains(err.Error(), "denied the request") {
			return fmt.Errorf("not judged yet: %v", err)
		}
		return nil
	})

	var failures []string
	var n atomic.Int64
	end := time.Now().Add(25 * time.Second)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				i := int(n.Add(1))
				err := create(i)
				ok := (i%2 == 0 && err == nil) || (i%2 == 1 && err != nil && strings.Contains(err.Error(), "denied the request"))
				if !ok {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("pod %d: %v", i, err))
					mu.Unlock()
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	stopWatch()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d creates; %d CAs and %d serving certificates seen in the Secret", n.Load(), len(signers), len(servings))
	if len(failures) > 0 {
		t.Fatalf("%d of %d creates failed, e.g.:\n%s", len(failures), n.Load(), strings.Join(failures[:min(5, len(failures))], "\n"))
	}
	if len(signers) < 2 || len(servings) < 3 { // the first, renewed by the same CA, then by the new one
		t.Fatalf("want the CA replaced and the certificate renewed: %d CAs, %d certificates", len(signers), len(servings))
	}
	v, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, vwc.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, release+"-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(v.Webhooks[0].ClientConfig.CABundle, sec.Data[admission.BundleKey]) {
		t.Fatal("the configuration's CA bundle does not start with the Secret's")
	}
}
