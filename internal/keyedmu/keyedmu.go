// Package keyedmu is a mutex per key (a VM id), whose entry is freed when
// nobody holds or waits for it, so that the map holds only busy keys, not
// every key ever seen. The agent serialises each domain's changes with it,
// and the SQLite store each VM's changes.
package keyedmu

import "sync"

// Mutex is a set of mutexes by key; the zero value is ready to use.
type Mutex struct {
	mu sync.Mutex
	m  map[string]*entry
}

type entry struct {
	sync.Mutex
	refs int // holders and waiters
}

// Lock locks key and returns its unlock.
func (k *Mutex) Lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*entry{}
	}
	l, ok := k.m[key]
	if !ok {
		l = &entry{}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// Len is the number of keys held or waited for.
func (k *Mutex) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}
