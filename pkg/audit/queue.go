package audit

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrQueueFull is returned by Put when the queue holds its maximum: the
// receiver answers 429 and the API server sends the batch again later.
var ErrQueueFull = errors.New("the queue is full")

var batchesBucket = []byte("batches")

// Queue is a durable FIFO of batches of events (a bbolt file): a batch the
// receiver acknowledged survives a crash, and is removed only once its
// alerts were written. Delivery is at least once: a crash between the
// alerts and the removal gives those alerts again after the restart.
type Queue struct {
	db       *bolt.DB
	maxBytes int64

	mu    sync.Mutex
	bytes int64 // held now
	more  chan struct{}
}

// OpenQueue opens (or creates) the queue file; maxBytes bounds what it
// holds (the batches' sizes).
func OpenQueue(path string, maxBytes int64) (*Queue, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", path, err)
	}
	q := &Queue{db: db, maxBytes: maxBytes, more: make(chan struct{}, 1)}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(batchesBucket)
		if err != nil {
			return err
		}
		return b.ForEach(func(_, v []byte) error { q.bytes += int64(len(v)); return nil })
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("queue %s: %w", path, err)
	}
	if q.bytes > 0 {
		q.signal()
	}
	return q, nil
}

// DB is the queue's file, which also keeps the detector's state.
func (q *Queue) DB() *bolt.DB { return q.db }

// Close closes the file.
func (q *Queue) Close() error { return q.db.Close() }

func (q *Queue) signal() {
	select {
	case q.more <- struct{}{}:
	default:
	}
}

// Len is the number of bytes held.
func (q *Queue) Len() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// Put appends a batch once it is on disk (bbolt syncs the file at commit),
// or returns ErrQueueFull.
func (q *Queue) Put(batch []byte) error {
	q.mu.Lock()
	if q.bytes+int64(len(batch)) > q.maxBytes && q.bytes > 0 {
		q.mu.Unlock()
		return ErrQueueFull
	}
	q.bytes += int64(len(batch))
	q.mu.Unlock()
	err := q.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(batchesBucket)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], seq)
		return b.Put(k[:], batch)
	})
	if err != nil {
		q.mu.Lock()
		q.bytes -= int64(len(batch))
		q.mu.Unlock()
		return err
	}
	q.signal()
	return nil
}

// Next returns the oldest batch and its key, waiting up to wait for one
// (nil when none came).
func (q *Queue) Next(wait time.Duration) (key uint64, batch []byte, err error) {
	deadline := time.Now().Add(wait)
	for {
		err = q.db.View(func(tx *bolt.Tx) error {
			k, v := tx.Bucket(batchesBucket).Cursor().First()
			if k != nil {
				key, batch = binary.BigEndian.Uint64(k), append([]byte(nil), v...)
			}
			return nil
		})
		if err != nil || batch != nil {
			return key, batch, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return 0, nil, nil
		}
		select {
		case <-q.more:
		case <-time.After(left):
		}
	}
}

// DoneWithState removes a batch and writes d's state, in one transaction.
func (q *Queue) DoneWithState(key uint64, d *Detector) error {
	d.mu.Lock()
	state, err := json.Marshal(d.state)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	var n int
	err = q.db.Update(func(tx *bolt.Tx) error {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], key)
		b := tx.Bucket(batchesBucket)
		n = len(b.Get(k[:]))
		if err := b.Delete(k[:]); err != nil {
			return err
		}
		sb, err := tx.CreateBucketIfNotExists(stateBucket)
		if err != nil {
			return err
		}
		return sb.Put([]byte("detector"), state)
	})
	if err == nil {
		q.mu.Lock()
		q.bytes -= int64(n)
		q.mu.Unlock()
	}
	return err
}

// Done removes a batch whose alerts were written.
func (q *Queue) Done(key uint64) error {
	var n int
	err := q.db.Update(func(tx *bolt.Tx) error {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], key)
		b := tx.Bucket(batchesBucket)
		n = len(b.Get(k[:]))
		return b.Delete(k[:])
	})
	if err == nil {
		q.mu.Lock()
		q.bytes -= int64(n)
		q.mu.Unlock()
	}
	return err
}
