package admission

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"slices"
	"sync/atomic"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Keys of the Secret SelfCerts keeps (type kubernetes.io/tls).
const (
	// BundleKey holds the CAs the API server is told to trust: the one
	// that signs now, and the one before it until it expires.
	BundleKey    = "ca.crt"
	signerCert   = "signer.crt"
	signerKey    = "signer.key"
	signerSince  = "rampart.dev/signer-since" // annotation: when the signer became the one that signs
	defaultCA    = 10 * 365 * 24 * time.Hour
	defaultServe = 365 * 24 * time.Hour
)

// SelfCerts makes and rotates the webhook's serving certificate without
// cert-manager. The certificates live in one Secret that every replica
// reads (the first to find it missing creates it; the API server's
// resourceVersion settles races), and the CA bundle is written into the
// webhook configurations, as Kyverno and Gatekeeper do.
//
// Rotation never leaves the API server without trust in what is served:
// the serving certificate is renewed (same CA, the bundle unchanged) when a
// third of its life is left; a new CA is first added to the bundle next to
// the old one (and written into the webhook configurations at once), and
// signs serving certificates only after a grace time (a minute) for the
// API server to see the new bundle.
type SelfCerts struct {
	Client    kubernetes.Interface
	Namespace string
	Secret    string
	// Hosts are the names (and IP addresses) the serving certificate is
	// for: the Service's DNS names.
	Hosts []string
	// Webhooks names the ValidatingWebhookConfigurations and
	// MutatingWebhookConfigurations whose webhooks get the CA bundle
	// (those absent are left alone).
	Webhooks []string
	// CAValidity and CertValidity default to 10 years and 1 year.
	CAValidity, CertValidity time.Duration
	Now                      func() time.Time

	cert  atomic.Pointer[tls.Certificate]
	ready atomic.Bool
}

func (s *SelfCerts) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *SelfCerts) validity() (ca, serve time.Duration) {
	ca, serve = s.CAValidity, s.CertValidity
	if ca <= 0 {
		ca = defaultCA
	}
	if serve <= 0 {
		serve = defaultServe
	}
	return ca, serve
}

// interval is how often the Secret is looked at when nothing changes: a
// ninth of a certificate's life, at most a minute.
func (s *SelfCerts) interval() time.Duration {
	_, serve := s.validity()
	return max(min(time.Minute, serve/9), 100*time.Millisecond)
}

// grace is how long a new CA waits in the bundle before it signs: the
// interval, and at least what an API server's informer needs under load.
func (s *SelfCerts) grace() time.Duration { return max(s.interval(), 5*time.Second) }

// GetCertificate is for tls.Config: the serving certificate of the last
// reconcile; none before the first (the handshake fails, /readyz with it).
func (s *SelfCerts) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.cert.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("no serving certificate yet")
}

// Ready reports whether a serving certificate has been loaded.
func (s *SelfCerts) Ready() bool { return s.ready.Load() }

// Run reconciles until ctx ends: at once, when the Secret or a webhook
// configuration changes (a helm upgrade empties the caBundle), and at
// least every grace period (rotation times come from the clock).
func (s *SelfCerts) Run(ctx context.Context) error {
	trigger := make(chan struct{}, 1)
	poke := func() {
		select {
		case trigger <- struct{}{}:
		default:
		}
	}
	s.watch(ctx, poke)
	backoff := time.Second
	for {
		err := s.Reconcile(ctx)
		wait := s.interval()
		if err != nil {
			slog.Error("serving certificate", "error", err)
			wait = min(backoff, wait)
			backoff = min(2*backoff, time.Minute)
		} else {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return nil
		case <-trigger:
		case <-time.After(wait):
		}
	}
}

// watch calls poke on any change of the Secret or the named webhook
// configurations (each watched by name: nothing else is listed).
func (s *SelfCerts) watch(ctx context.Context, poke func()) {
	byName := func(name string) func(*metav1.ListOptions) {
		return func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}
	}
	h := cache.ResourceEventHandlerFuncs{AddFunc: func(any) { poke() }, UpdateFunc: func(any, any) { poke() }, DeleteFunc: func(any) { poke() }}
	run := func(lw cache.ListerWatcher, obj runtime.Object) {
		inf := cache.NewSharedInformer(lw, obj, 0)
		_, _ = inf.AddEventHandler(h)
		go inf.Run(ctx.Done())
	}
	secrets := s.Client.CoreV1().Secrets(s.Namespace)
	sel := byName(s.Secret)
	run(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			sel(&o)
			return secrets.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			sel(&o)
			return secrets.Watch(ctx, o)
		},
	}, &corev1.Secret{})
	ar := s.Client.AdmissionregistrationV1()
	for _, name := range s.Webhooks {
		sel := byName(name)
		run(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				sel(&o)
				return ar.ValidatingWebhookConfigurations().List(ctx, o)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				sel(&o)
				return ar.ValidatingWebhookConfigurations().Watch(ctx, o)
			},
		}, &admissionregistrationv1.ValidatingWebhookConfiguration{})
		run(&cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				sel(&o)
				return ar.MutatingWebhookConfigurations().List(ctx, o)
			},
			WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				sel(&o)
				return ar.MutatingWebhookConfigurations().Watch(ctx, o)
			},
		}, &admissionregistrationv1.MutatingWebhookConfiguration{})
	}
}

// Reconcile makes the Secret current (creating or rotating what is due),
// loads its serving certificate, and writes its bundle into the webhook
// configurations.
func (s *SelfCerts) Reconcile(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		sec, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, s.Secret, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			sec = nil
		} else if err != nil {
			return fmt.Errorf("reading Secret %s/%s: %w", s.Namespace, s.Secret, err)
		}
		want, changed, err := s.next(sec)
		if err != nil {
			return err
		}
		if changed {
			if sec == nil {
				_, err = s.Client.CoreV1().Secrets(s.Namespace).Create(ctx, want, metav1.CreateOptions{})
			} else {
				_, err = s.Client.CoreV1().Secrets(s.Namespace).Update(ctx, want, metav1.UpdateOptions{})
			}
			if (apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err)) && attempt < 5 {
				continue // another replica wrote it first: start from what it wrote
			}
			if err != nil {
				return fmt.Errorf("writing Secret %s/%s: %w", s.Namespace, s.Secret, err)
			}
		}
		pair, err := tls.X509KeyPair(want.Data[corev1.TLSCertKey], want.Data[corev1.TLSPrivateKeyKey])
		if err != nil {
			return fmt.Errorf("Secret %s/%s: %w", s.Namespace, s.Secret, err)
		}
		// The bundle first, then the certificate it must trust.
		if err := s.inject(ctx, want.Data[BundleKey]); err != nil {
			return err
		}
		if old := s.cert.Load(); old == nil || !bytes.Equal(old.Certificate[0], pair.Certificate[0]) {
			s.cert.Store(&pair)
		}
		s.ready.Store(true)
		return nil
	}
}

// state is what the Secret holds, parsed.
type state struct {
	bundle   []*x509.Certificate
	signer   *x509.Certificate
	key      *ecdsa.PrivateKey
	since    time.Time
	serving  *x509.Certificate
	servePEM []byte
	keyPEM   []byte
}

func parseState(sec *corev1.Secret) (*state, bool) {
	if sec == nil {
		return nil, false
	}
	st := &state{servePEM: sec.Data[corev1.TLSCertKey], keyPEM: sec.Data[corev1.TLSPrivateKeyKey]}
	for rest := sec.Data[BundleKey]; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			st.bundle = append(st.bundle, c)
		}
	}
	sc, err := parseCert(sec.Data[signerCert])
	if err != nil {
		return nil, false
	}
	st.signer = sc
	kb, _ := pem.Decode(sec.Data[signerKey])
	if kb == nil {
		return nil, false
	}
	if st.key, err = x509.ParseECPrivateKey(kb.Bytes); err != nil {
		return nil, false
	}
	if st.serving, err = parseCert(st.servePEM); err != nil {
		return nil, false
	}
	if _, err := tls.X509KeyPair(st.servePEM, st.keyPEM); err != nil {
		return nil, false
	}
	st.since, _ = time.Parse(time.RFC3339Nano, sec.Annotations[signerSince])
	return st, true
}

func parseCert(p []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(p)
	if b == nil {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

// next is the Secret as it should be now, and whether that differs from
// sec.
func (s *SelfCerts) next(sec *corev1.Secret) (*corev1.Secret, bool, error) {
	now := s.now()
	caLife, serveLife := s.validity()
	st, ok := parseState(sec)
	changed := false
	if !ok {
		// Missing or unreadable: start over with a new CA that signs at once
		// (nothing can have trusted what is not there).
		ca, key, err := newCA(now, caLife)
		if err != nil {
			return nil, false, err
		}
		st = &state{bundle: []*x509.Certificate{ca}, signer: ca, key: key, since: now.Add(-s.grace())}
		changed = true
	}
	// A new CA when a third of the signer's life is left: trusted first,
	// signing later.
	if st.signer.NotAfter.Sub(now) < caLife/3 {
		ca, key, err := newCA(now, caLife)
		if err != nil {
			return nil, false, err
		}
		st.bundle = append([]*x509.Certificate{ca}, st.bundle...)
		st.signer, st.key, st.since = ca, key, now
		changed = true
	}
	// The bundle: the signer first, then the others until they expire.
	bundle := []*x509.Certificate{st.signer}
	for _, c := range st.bundle {
		if !c.Equal(st.signer) && c.NotAfter.After(now) {
			bundle = append(bundle, c)
		}
	}
	if len(bundle) != len(st.bundle) || !bundle[0].Equal(st.bundle[0]) {
		changed = true
	}
	st.bundle = bundle
	// A new serving certificate when a third of its life is left, when the
	// hosts changed, or when a new signer has been trusted long enough.
	// (A CA is renewed with a third of its years left, a serving certificate
	// with months: the one waits the grace time, the other can.)
	signedBySigner := st.serving != nil && st.serving.CheckSignatureFrom(st.signer) == nil
	signerTrusted := now.Sub(st.since) >= s.grace()
	due := st.serving == nil || st.serving.NotAfter.Sub(now) < serveLife/3 || !sameHosts(st.serving, s.Hosts)
	expired := st.serving == nil || !st.serving.NotAfter.After(now) // nothing works anyway: no grace
	if !ok || expired || (signerTrusted && (due || !signedBySigner)) {
		certPEM, keyPEM, err := newServing(now, serveLife, s.Hosts, st.signer, st.key)
		if err != nil {
			return nil, false, err
		}
		st.servePEM, st.keyPEM = certPEM, keyPEM
		changed = true
	}
	if !changed {
		return sec, false, nil
	}
	out := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.Secret, Namespace: s.Namespace,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "rampart"}}, Type: corev1.SecretTypeTLS}
	if sec != nil {
		out.ObjectMeta = *sec.ObjectMeta.DeepCopy()
		out.Type = sec.Type
	}
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[signerSince] = st.since.UTC().Format(time.RFC3339Nano)
	var b bytes.Buffer
	for _, c := range st.bundle {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	keyDER, err := x509.MarshalECPrivateKey(st.key)
	if err != nil {
		return nil, false, err
	}
	out.Data = map[string][]byte{
		BundleKey:               b.Bytes(),
		signerCert:              pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: st.signer.Raw}),
		signerKey:               pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		corev1.TLSCertKey:       st.servePEM,
		corev1.TLSPrivateKeyKey: st.keyPEM,
	}
	return out, true, nil
}

func sameHosts(c *x509.Certificate, hosts []string) bool {
	var have []string
	have = append(have, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		have = append(have, ip.String())
	}
	want := slices.Clone(hosts)
	slices.Sort(have)
	slices.Sort(want)
	return slices.Equal(have, want)
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func newCA(now time.Time, life time.Duration) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: "rampart-webhook-ca-" + now.UTC().Format("20060102T150405")},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(life), IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

func newServing(now time.Time, life time.Duration, hosts []string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: sn, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(life),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if len(hosts) > 0 {
		tmpl.Subject.CommonName = hosts[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// inject writes bundle into every webhook of the named configurations,
// keeping the CAs they already trust until those expire: a replica that
// made the Secret anew (it was deleted) or read it before another replica
// rotated never takes trust away from what the others serve.
func (s *SelfCerts) inject(ctx context.Context, bundle []byte) error {
	ar := s.Client.AdmissionregistrationV1()
	now := s.now()
	merge := func(current []byte) []byte { return mergeBundles(bundle, current, now) }
	for _, name := range s.Webhooks {
		err := retryConflicts(func() error {
			v, err := ar.ValidatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			configs := make([]*admissionregistrationv1.WebhookClientConfig, len(v.Webhooks))
			for i := range v.Webhooks {
				configs[i] = &v.Webhooks[i].ClientConfig
			}
			if !mergeInto(configs, merge) {
				return nil
			}
			_, err = ar.ValidatingWebhookConfigurations().Update(ctx, v, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			return fmt.Errorf("ValidatingWebhookConfiguration %s: %w", name, err)
		}
		err = retryConflicts(func() error {
			m, err := ar.MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			configs := make([]*admissionregistrationv1.WebhookClientConfig, len(m.Webhooks))
			for i := range m.Webhooks {
				configs[i] = &m.Webhooks[i].ClientConfig
			}
			if !mergeInto(configs, merge) {
				return nil
			}
			_, err = ar.MutatingWebhookConfigurations().Update(ctx, m, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			return fmt.Errorf("MutatingWebhookConfiguration %s: %w", name, err)
		}
	}
	return nil
}

// mergeInto sets each client configuration's bundle to merge(its bundle),
// reporting whether any changed.
func mergeInto(configs []*admissionregistrationv1.WebhookClientConfig, merge func([]byte) []byte) bool {
	changed := false
	for _, c := range configs {
		if b := merge(c.CABundle); !bytes.Equal(c.CABundle, b) {
			c.CABundle, changed = b, true
		}
	}
	return changed
}

// retryConflicts runs f again (from its own read) while it fails with a
// conflict, five times at most.
func retryConflicts(f func() error) error {
	var err error
	for range 5 {
		if err = f(); !apierrors.IsConflict(err) {
			return err
		}
	}
	return err
}

// mergeBundles is bundle followed by the certificates of current that
// bundle lacks and that have not expired at now, in PEM.
func mergeBundles(bundle, current []byte, now time.Time) []byte {
	have := map[string]bool{}
	for _, c := range pemCerts(bundle) {
		have[string(c.Raw)] = true
	}
	out := append([]byte(nil), bundle...)
	for _, c := range pemCerts(current) {
		if !have[string(c.Raw)] && c.NotAfter.After(now) {
			have[string(c.Raw)] = true
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
	}
	return out
}

func pemCerts(p []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		if b, p = pem.Decode(p); b == nil {
			return out
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			out = append(out, c)
		}
	}
}
