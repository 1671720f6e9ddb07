package sqlstore

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// eventsChannel is the PostgreSQL NOTIFY channel of new audit events.
const eventsChannel = "vwire_events"

// broadcaster wakes every subscriber; a subscriber that has not yet taken
// the last wake-up gets just one.
type broadcaster struct {
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

func (b *broadcaster) subscribe() (chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[chan struct{}]struct{}{}
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}
}

func (b *broadcaster) wake() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// SubscribeEvents returns a channel that receives a value whenever audit
// events were committed, by this engine or, on PostgreSQL, by any engine
// (LISTEN/NOTIFY). Receivers read the events themselves; a wake-up may
// cover several events, and a lost one is covered by the next.
func (db *DB) SubscribeEvents(ctx context.Context) <-chan struct{} {
	ch, cancel := db.events.subscribe()
	if db.pgURL != "" {
		db.listenOnce.Do(func() { go db.listen() })
	}
	go func() {
		<-ctx.Done()
		cancel()
	}()
	return ch
}

// listen holds one connection LISTENing for events of every engine, and
// reconnects when it drops, until the store closes.
func (db *DB) listen() {
	for {
		select {
		case <-db.closed:
			return
		default:
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-db.closed:
			case <-ctx.Done():
			}
			cancel()
		}()
		conn, err := pgx.Connect(ctx, db.pgURL)
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+eventsChannel); err == nil {
				// Events may have been missed while not listening.
				db.events.wake()
				for {
					if _, err = conn.WaitForNotification(ctx); err != nil {
						break
					}
					db.events.wake()
				}
			}
			conn.Close(context.Background())
		}
		cancel()
		select {
		case <-db.closed:
			return
		case <-time.After(time.Second):
		}
	}
}
