package admission

import (
	"bytes"
	"context"
	"crypto/x509"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// trusted reports whether the serving certificate in sec verifies for host
// at t against the CA bundle the webhook configurations carry.
func trusted(t *testing.T, serving, bundle []byte, host string, at time.Time) bool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		return false
	}
	c, err := parseCert(serving)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Verify(x509.VerifyOptions{DNSName: host, Roots: pool, CurrentTime: at})
	return err == nil
}

func TestSelfCerts(t *testing.T) {
	ctx := context.Background()
	const day = 24 * time.Hour
	start := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	hosts := []string{"rampart.rampart.svc", "rampart.rampart.svc.cluster.local"}
	cs := fake.NewClientset(
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "rampart"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "validate.rampart.dev"}}},
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "rampart"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "mutate.rampart.dev"}}},
	)
	now := start
	s := &SelfCerts{Client: cs, Namespace: "rampart", Secret: "rampart-tls", Hosts: hosts, Webhooks: []string{"rampart", "absent"},
		CAValidity: 90 * day, CertValidity: 9 * day, Now: func() time.Time { return now }}
	if _, err := s.GetCertificate(nil); err == nil || s.Ready() {
		t.Fatal("a certificate before the first reconcile")
	}
	secret := func() *corev1.Secret {
		sec, err := cs.CoreV1().Secrets("rampart").Get(ctx, "rampart-tls", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return sec
	}
	injected := func() (v, m []byte) {
		vw, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "rampart", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		mw, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "rampart", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return vw.Webhooks[0].ClientConfig.CABundle, mw.Webhooks[0].ClientConfig.CABundle
	}
	bundleSize := func(b []byte) int { return bytes.Count(b, []byte("BEGIN CERTIFICATE")) }
	writes := func() int {
		n := 0
		for _, a := range cs.Actions() {
			if (a.GetVerb() == "create" || a.GetVerb() == "update") && a.GetResource().Resource == "secrets" {
				n++
			}
		}
		return n
	}
	reconcile := func() {
		t.Helper()
		if err := s.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// Created, loaded, injected into both kinds.
	reconcile()
	first := secret()
	if first.Type != corev1.SecretTypeTLS || !s.Ready() {
		t.Fatalf("type %s, ready %v", first.Type, s.Ready())
	}
	v, m := injected()
	if !bytes.Equal(v, first.Data[BundleKey]) || !bytes.Equal(m, first.Data[BundleKey]) {
		t.Fatal("the bundle is not in the webhook configurations")
	}
	if !trusted(t, first.Data[corev1.TLSCertKey], v, hosts[1], now) {
		t.Fatal("the serving certificate does not verify against the bundle")
	}
	got, _ := s.GetCertificate(nil)
	if !bytes.Equal(got.Certificate[0], mustParse(t, first.Data[corev1.TLSCertKey]).Raw) {
		t.Fatal("serving something else than the Secret's certificate")
	}
	// Nothing due: nothing written.
	n := writes()
	now = now.Add(day)
	reconcile()
	if writes() != n {
		t.Fatal("a reconcile with nothing due wrote the Secret")
	}

	// Two thirds into the serving certificate's life: renewed by the same CA.
	now = start.Add(6*day + time.Hour)
	reconcile()
	renewed := secret()
	if bytes.Equal(renewed.Data[corev1.TLSCertKey], first.Data[corev1.TLSCertKey]) || !bytes.Equal(renewed.Data[BundleKey], first.Data[BundleKey]) {
		t.Fatal("want a new serving certificate and the same bundle")
	}

	// A reconcile a day up to two thirds into the CA's life: the serving
	// certificate renewed when less than three of its nine days are left,
	// every seventh day.
	renewals := 0
	for now = start.Add(7 * day); now.Before(start.Add(60 * day)); now = now.Add(day) {
		before := secret().Data[corev1.TLSCertKey]
		reconcile()
		if !bytes.Equal(before, secret().Data[corev1.TLSCertKey]) {
			renewals++
		}
	}
	if renewals != 7 {
		t.Fatalf("%d renewals of the serving certificate in 53 days, want 7", renewals)
	}
	// Then a second CA is trusted first...
	servedBefore := secret().Data[corev1.TLSCertKey]
	now = start.Add(60*day + time.Hour)
	reconcile()
	phase1 := secret()
	v, _ = injected()
	if bundleSize(v) != 2 || !bytes.Equal(phase1.Data[corev1.TLSCertKey], servedBefore) {
		t.Fatalf("want two CAs in the injected bundle, got %d", bundleSize(v))
	}
	if !trusted(t, phase1.Data[corev1.TLSCertKey], v, hosts[0], now) {
		t.Fatal("what is served stopped being trusted when the CA was added")
	}
	// ... and signs only after the grace time.
	now = now.Add(30 * time.Second)
	reconcile()
	if !bytes.Equal(secret().Data[corev1.TLSCertKey], servedBefore) {
		t.Fatal("the new CA signed before the grace time")
	}
	now = now.Add(time.Minute)
	reconcile()
	phase2 := secret()
	if bytes.Equal(phase2.Data[corev1.TLSCertKey], servedBefore) {
		t.Fatal("the new CA did not sign after the grace time")
	}
	sc, _ := parseCert(phase2.Data[signerCert])
	if mustParse(t, phase2.Data[corev1.TLSCertKey]).CheckSignatureFrom(sc) != nil || !trusted(t, phase2.Data[corev1.TLSCertKey], v, hosts[0], now) {
		t.Fatal("the serving certificate is not the new CA's, or not trusted")
	}
	// The old CA leaves the bundle when it expires.
	now = start.Add(91 * day)
	reconcile()
	v, m = injected()
	if bundleSize(v) != 1 || bundleSize(m) != 1 {
		t.Fatalf("the expired CA stayed in the bundle (%d, %d)", bundleSize(v), bundleSize(m))
	}

	// Other hosts: a new serving certificate for them.
	s.Hosts = append(s.Hosts, "127.0.0.1")
	reconcile()
	if c := mustParse(t, secret().Data[corev1.TLSCertKey]); len(c.IPAddresses) != 1 {
		t.Fatal("the serving certificate does not have the new host")
	}

	// An unreadable Secret starts over, and the configurations keep
	// trusting what the other replicas may still serve until it expires.
	before := secret()
	bad := secret()
	bad.Data[signerKey] = []byte("garbage")
	if _, err := cs.CoreV1().Secrets("rampart").Update(ctx, bad, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	reconcile()
	fresh := secret()
	v, _ = injected()
	if !trusted(t, fresh.Data[corev1.TLSCertKey], v, hosts[0], now) || bundleSize(v) != 2 {
		t.Fatalf("an unreadable Secret was not made anew (%d CAs injected)", bundleSize(v))
	}
	if !trusted(t, before.Data[corev1.TLSCertKey], v, hosts[0], now) {
		t.Fatal("the certificate served before the Secret was made anew is no longer trusted")
	}

	// A second replica on the same Secret serves the same certificate and
	// writes nothing.
	n = writes()
	other := &SelfCerts{Client: cs, Namespace: "rampart", Secret: "rampart-tls", Hosts: s.Hosts, Webhooks: s.Webhooks,
		CAValidity: 90 * day, CertValidity: 9 * day, Now: s.Now}
	if err := other.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	a, _ := s.GetCertificate(nil)
	b, _ := other.GetCertificate(nil)
	if writes() != n || !bytes.Equal(a.Certificate[0], b.Certificate[0]) {
		t.Fatal("the second replica did not take the first one's certificate")
	}
}

func mustParse(t *testing.T, p []byte) *x509.Certificate {
	t.Helper()
	c, err := parseCert(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
