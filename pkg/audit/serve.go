package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fastjson"
)

// DefaultMaxBatch bounds one POSTed batch: the API server's webhook
// backend sends at most 400 events a batch (--audit-webhook-batch-max-size),
// each at most the size of a request and its response.
const DefaultMaxBatch = 64 << 20

// Metrics are the receiver's and the detector's Prometheus metrics.
type Metrics struct {
	registry *prometheus.Registry
	batches  *prometheus.CounterVec
	events   prometheus.Counter
	alerts   *prometheus.CounterVec
	errors   prometheus.Counter
	queue    prometheus.GaugeFunc
	lag      prometheus.Gauge
}

// NewMetrics registers the metrics; q's size is read when scraped (nil: no
// local queue).
func NewMetrics(q *Queue) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		batches:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_audit_batches_total", Help: "Batches received, by answer (queued, full, invalid)."}, []string{"answer"}),
		events:   prometheus.NewCounter(prometheus.CounterOpts{Name: "rampart_audit_events_total", Help: "Audit events read by the detector."}),
		alerts:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_audit_alerts_total", Help: "Alerts, by rule and severity (rules are the configuration's: a bounded set)."}, []string{"rule", "severity"}),
		errors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "rampart_audit_input_errors_total", Help: "Events that could not be read."}),
		queue: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rampart_audit_queue_bytes", Help: "Bytes of batches received and not yet detected."},
			func() float64 {
				if q == nil {
					return 0
				}
				return float64(q.Len())
			}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rampart_audit_lag_seconds", Help: "Time between the last detected event's stage and its detection."}),
	}
	m.registry.MustRegister(m.batches, m.events, m.alerts, m.errors, m.queue, m.lag)
	return m
}

// Receiver is the API server's audit webhook backend: each POSTed
// EventList is answered 200 once it is in the durable queue, 429 when the
// queue is full (the API server sends it again after a backoff, so nothing
// is dropped), 400 when it is not JSON.
type Receiver struct {
	Queue *Queue
	// Publish, when set, takes the batches instead of Queue (NATS
	// JetStream): it returns ErrQueueFull when there is no room.
	Publish func([]byte) error
	Metrics *Metrics
	// MaxBatch bounds one batch; DefaultMaxBatch when zero.
	MaxBatch int64

	once sync.Once
	sem  chan struct{}
}

// slots bounds the batches read at once (each up to MaxBatch in memory).
func (rc *Receiver) slots() chan struct{} {
	rc.once.Do(func() { rc.sem = make(chan struct{}, 4) })
	return rc.sem
}

// Handler serves POST /audit (and /), /healthz and /metrics.
func (rc *Receiver) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.Handle("/metrics", promhttp.HandlerFor(rc.Metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", rc.receive)
	return mux
}

func (rc *Receiver) receive(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST an audit.k8s.io/v1 EventList", http.StatusMethodNotAllowed)
		return
	}
	max := rc.MaxBatch
	if max <= 0 {
		max = DefaultMaxBatch
	}
	if rc.Queue != nil && rc.Publish == nil && r.ContentLength > 0 && rc.Queue.Len()+r.ContentLength > rc.Queue.maxBytes && rc.Queue.Len() > 0 {
		rc.Metrics.batches.WithLabelValues("full").Inc()
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the detector is behind: send it again later", http.StatusTooManyRequests)
		return // before reading it
	}
	select {
	case rc.slots() <- struct{}{}:
		defer func() { <-rc.slots() }()
	case <-r.Context().Done():
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		rc.Metrics.batches.WithLabelValues("invalid").Inc()
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("a batch larger than %d bytes", max), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the batch: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := fastjson.ValidateBytes(body); err != nil {
		rc.Metrics.batches.WithLabelValues("invalid").Inc()
		http.Error(w, "the batch is not JSON", http.StatusBadRequest) // never quoted: it holds events
		return
	}
	put := rc.Publish
	if put == nil {
		put = rc.Queue.Put
	}
	switch err := put(body); {
	case errors.Is(err, ErrQueueFull):
		rc.Metrics.batches.WithLabelValues("full").Inc()
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the detector is behind: send it again later", http.StatusTooManyRequests)
	case err != nil:
		rc.Metrics.batches.WithLabelValues("error").Inc()
		http.Error(w, "queueing the batch: "+err.Error(), http.StatusServiceUnavailable)
	default:
		rc.Metrics.batches.WithLabelValues("queued").Inc()
	}
}

// Process detects the queued batches in order until ctx ends: each
// batch's alerts go to sink, and the batch leaves the queue only once sink
// returned. A sink that fails or blocks holds the queue (and the receiver
// answers 429 when it is full); it is tried again after a second.
func Process(ctx context.Context, q *Queue, d *Detector, m *Metrics, sink func([]Alert) error, onError func(InputError)) error {
	r := Reader{MaxEvent: DefaultMaxBatch} // a batch is one value: as large as the receiver takes
	for ctx.Err() == nil {
		key, batch, err := q.Next(time.Second)
		if err != nil {
			return err
		}
		if batch == nil {
			continue
		}
		var alerts []Alert
		var last time.Time
		err = r.Read(fmt.Sprintf("batch %d", key), bytes.NewReader(batch), func(e Event) error {
			m.events.Inc()
			before := len(alerts)
			alerts = d.Detect(e, alerts)
			for _, a := range alerts[before:] {
				m.alerts.WithLabelValues(a.Rule, a.Severity.String()).Inc()
			}
			last = e.Time()
			return nil
		}, func(e InputError) {
			m.errors.Inc()
			onError(e)
		})
		if err != nil {
			return err
		}
		for {
			if err := sink(alerts); err == nil {
				break
			} else if ctx.Err() != nil {
				return nil
			} else {
				onError(InputError{File: fmt.Sprintf("batch %d", key), Message: "writing alerts: " + err.Error()})
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
		if !last.IsZero() {
			m.lag.Set(time.Since(last).Seconds())
		}
		// The batch leaves the queue and the state it made is written in
		// one transaction: after a crash, a batch is either still queued
		// (and the state is from before it) or gone (and its state kept).
		if err := q.DoneWithState(key, d); err != nil {
			return err
		}
	}
	return nil
}
