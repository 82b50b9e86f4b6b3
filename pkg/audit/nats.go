package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Scaling out over NATS JetStream. Receivers publish the batches the API
// servers send to one stream; detectors share the work in two stages:
//
//   - routing: the batches, one at a time and in order (whichever detector
//     takes the next one); the stateless rules alert here, and each event a
//     stateful rule matches is published to the partition of that rule's
//     key (rule and key hashed over Partitions);
//   - state: each partition belongs to one detector (partition p to
//     replica p mod Replicas), read in order; its state and the sequence of
//     the last message it reflects are checkpointed in a key-value bucket
//     before the messages are acknowledged, so a detector killed and
//     started again goes on where its checkpoint left off.
//
// Alerts go to their own stream with a message ID (rule and audit ID):
// JetStream drops the copies a redelivered message publishes again, so the
// alerts are the same with one detector or several, killed or not.
const (
	batchesStream = "RAMPART_AUDIT_BATCHES"
	stateStream   = "RAMPART_AUDIT_STATE"
	AlertsStream  = "RAMPART_AUDIT_ALERTS"
	batchesSubj   = "rampart.audit.batches"
	stateSubj     = "rampart.audit.state."
	AlertsSubject = "rampart.audit.alerts"
	stateBucketKV = "rampart-audit-state"
)

// Cluster is a connection to the JetStream that carries the work.
type Cluster struct {
	js jetstream.JetStream
	// Partitions of the stateful rules' keys (fixed for a deployment).
	Partitions int
}

// ConnectCluster connects to NATS at url and makes the streams (the
// batches' stream holds at most maxBytes: a receiver is refused beyond).
func ConnectCluster(ctx context.Context, url string, partitions int, maxBytes int64) (*Cluster, *nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name("rampart-audit"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, nil, fmt.Errorf("NATS %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	for _, cfg := range []jetstream.StreamConfig{
		{Name: batchesStream, Subjects: []string{batchesSubj}, Retention: jetstream.WorkQueuePolicy, MaxBytes: maxBytes, Discard: jetstream.DiscardNew, Storage: jetstream.FileStorage},
		{Name: stateStream, Subjects: []string{stateSubj + "*"}, Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute},
		{Name: AlertsStream, Subjects: []string{AlertsSubject}, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute, MaxAge: 7 * 24 * time.Hour},
	} {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			nc.Close()
			return nil, nil, fmt.Errorf("stream %s: %w", cfg.Name, err)
		}
	}
	if _, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: stateBucketKV, Storage: jetstream.FileStorage}); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("bucket %s: %w", stateBucketKV, err)
	}
	return &Cluster{js: js, Partitions: partitions}, nc, nil
}

// Publish puts a batch (an EventList as the API server sends it) in the
// stream; ErrQueueFull when the stream holds its maximum.
func (c *Cluster) Publish(ctx context.Context, batch []byte) error {
	_, err := c.js.Publish(ctx, batchesSubj, batch)
	// A stream at its maximum refuses with "maximum bytes exceeded"
	// (JetStream's store-failed error, 10047); the receiver answers 429.
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == 10047 || apiErr.Code == 503) {
		return ErrQueueFull
	}
	return err
}

func (c *Cluster) partition(rule, key string) int {
	h := fnv.New32a()
	h.Write([]byte(rule))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(c.Partitions))
}

func (c *Cluster) publishAlert(ctx context.Context, a Alert) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = c.js.Publish(ctx, AlertsSubject, data, jetstream.WithMsgID(a.Rule+"|"+a.AuditID+"|"+a.Received))
	return err
}

// Replica runs detector replica index of replicas until ctx ends: it takes
// its turn at routing, and owns the state partitions p with p mod replicas
// == index. A replica's replacement must start once it has stopped (a
// StatefulSet, or a Deployment with the Recreate strategy): two instances
// of a partition's consumer at once would share its messages out of order.
func (c *Cluster) Replica(ctx context.Context, rules []*Rule, index, replicas int, onError func(InputError)) error {
	if replicas < 1 || index < 0 || index >= replicas {
		return fmt.Errorf("replica %d of %d", index, replicas)
	}
	errs := make(chan error, 1+c.Partitions)
	n := 1
	go func() { errs <- c.route(ctx, rules, onError) }()
	for p := index; p < c.Partitions; p += replicas {
		n++
		go func() { errs <- c.state(ctx, rules, p) }()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil && ctx.Err() == nil {
			first = err
		}
	}
	return first
}

// route takes the batches one at a time, in order (MaxAckPending 1: the
// next is given to any replica only once this one is acknowledged).
func (c *Cluster) route(ctx context.Context, rules []*Rule, onError func(InputError)) error {
	cons, err := c.js.CreateOrUpdateConsumer(ctx, batchesStream, jetstream.ConsumerConfig{
		Durable: "route", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1, AckWait: 10 * time.Second})
	if err != nil {
		return err
	}
	d := NewDetector(rules)
	var r Reader
	for ctx.Err() == nil {
		msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			continue
		}
		for msg := range msgs.Messages() {
			meta, _ := msg.Metadata()
			name := "batch"
			if meta != nil {
				name = "batch " + strconv.FormatUint(meta.Sequence.Stream, 10)
			}
			err := r.Read(name, bytes.NewReader(msg.Data()), func(e Event) error {
				for _, a := range d.DetectStateless(e, nil) {
					if err := c.publishAlert(ctx, a); err != nil {
						return err
					}
				}
				for _, m := range d.StatefulMatches(e) {
					h := nats.Header{}
					h.Set("Rampart-Rule", m.Rule.Name)
					subj := stateSubj + strconv.Itoa(c.partition(m.Rule.Name, m.Key))
					if _, err := c.js.PublishMsg(ctx, &nats.Msg{Subject: subj, Header: h, Data: e.Value().MarshalTo(nil)},
						jetstream.WithMsgID(m.Rule.Name+"|"+e.RequestKey())); err != nil {
						return err
					}
				}
				return nil
			}, onError)
			if err != nil {
				_ = msg.Nak() // published in part: the next delivery's copies are dropped by their IDs
				continue
			}
			_ = msg.Ack()
		}
	}
	return nil
}

// checkpoint is a partition's state, the last message it reflects, and
// the alerts those messages made (published again after a restart: their
// IDs make the copies drop).
type checkpoint struct {
	Seq    uint64  `json:"seq"`
	State  *State  `json:"state"`
	Alerts []Alert `json:"alerts,omitempty"`
}

// state runs partition p: its events in order, the stateful rules'
// memory. One batch of its messages is out at a time (MaxAckPending),
// whichever instance fetched it; the batch's state is written with the
// bucket's revision as a fence: an instance whose checkpoint another wrote
// over since it read it (a replica and its replacement running at once)
// reads the newer one and does the batch again from it. Alerts are
// published after their checkpoint, messages acknowledged after both.
func (c *Cluster) state(ctx context.Context, rules []*Rule, p int) error {
	const batch = 100
	cons, err := c.js.CreateOrUpdateConsumer(ctx, stateStream, jetstream.ConsumerConfig{
		Durable: fmt.Sprintf("state-%d", p), FilterSubject: stateSubj + strconv.Itoa(p), AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 10 * time.Second, MaxAckPending: batch})
	if err != nil {
		return err
	}
	kv, err := c.js.KeyValue(ctx, stateBucketKV)
	if err != nil {
		return err
	}
	byName := map[string]*Rule{}
	for _, r := range rules {
		byName[r.Name] = r
	}
	key := fmt.Sprintf("partition-%d", p)
	var (
		d    *Detector
		last uint64
		rev  uint64
	)
	load := func() error {
		d, last, rev = NewDetector(rules), 0, 0
		entry, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var cp checkpoint
		if err := json.Unmarshal(entry.Value(), &cp); err != nil {
			return fmt.Errorf("partition %d's checkpoint: %w", p, err)
		}
		if cp.State != nil {
			d.state = cp.State.complete()
		}
		last, rev = cp.Seq, entry.Revision()
		for _, a := range cp.Alerts { // in case they were not published before the stop
			if err := c.publishAlert(ctx, a); err != nil {
				return err
			}
		}
		return nil
	}
	if err := load(); err != nil {
		return err
	}
	var parser fastjsonParser
	for ctx.Err() == nil {
		msgs, err := cons.Fetch(batch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			continue
		}
		var fetched []jetstream.Msg
		for msg := range msgs.Messages() {
			fetched = append(fetched, msg)
		}
		if len(fetched) == 0 {
			continue
		}
		if ctx.Err() != nil {
			for _, m := range fetched {
				_ = m.Nak() // stopping: back to the stream at once
			}
			return nil
		}
		for attempt := 0; ; attempt++ {
			var alerts []Alert
			seq := last
			for _, msg := range fetched {
				meta, err := msg.Metadata()
				if err != nil || meta.Sequence.Stream <= seq {
					continue // reflected in the checkpoint already
				}
				seq = meta.Sequence.Stream
				r := byName[msg.Headers().Get("Rampart-Rule")]
				if r == nil || r.stateful == nil {
					continue // a rule this detector does not have
				}
				if ev, err := parser.event(msg.Data()); err == nil {
					if a, ok := d.Observe(r, ev); ok {
						alerts = append(alerts, a)
					}
				}
			}
			d.mu.Lock()
			data, err := json.Marshal(checkpoint{Seq: seq, State: d.state, Alerts: alerts})
			d.mu.Unlock()
			if err != nil {
				return err
			}
			if rev == 0 {
				rev, err = kv.Create(ctx, key, data)
			} else {
				rev, err = kv.Update(ctx, key, data, rev)
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if attempt < 3 {
					// Another instance wrote since: go on from its state.
					if err := load(); err != nil {
						return err
					}
					continue
				}
				return fmt.Errorf("partition %d's checkpoint: %w", p, err)
			}
			last = seq
			// Checkpointed: finish the batch even if asked to stop now.
			fin, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			for _, a := range alerts {
				if err := c.publishAlert(fin, a); err != nil {
					cancel()
					return err // published again from the checkpoint at the next start
				}
			}
			cancel()
			for _, m := range fetched {
				_ = m.Ack()
			}
			break
		}
	}
	return nil
}

// Alerts calls f with each alert of the alerts stream not yet given to the
// durable consumer name (each once, unless f fails: then again), until ctx
// ends.
func (c *Cluster) Alerts(ctx context.Context, name string, f func(Alert) error) error {
	cons, err := c.js.CreateOrUpdateConsumer(ctx, AlertsStream, jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second})
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		msgs, err := cons.Fetch(100, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			continue
		}
		for msg := range msgs.Messages() {
			var a Alert
			if err := json.Unmarshal(msg.Data(), &a); err != nil {
				_ = msg.Term() // not an alert: never again
				continue
			}
			if err := f(a); err != nil {
				_ = msg.NakWithDelay(time.Second)
				continue
			}
			_ = msg.Ack()
		}
	}
	return nil
}
