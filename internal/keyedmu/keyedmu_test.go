package keyedmu

import (
	"sync"
	"testing"
)

// TestExclusiveAndFreed: one holder per key at a time, and no entry left
// once every holder and waiter is gone.
func TestExclusiveAndFreed(t *testing.T) {
	var k Mutex
	var wg sync.WaitGroup
	inside := map[string]int{}
	var mu sync.Mutex
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(key string) {
			defer wg.Done()
			unlock := k.Lock(key)
			mu.Lock()
			inside[key]++
			if inside[key] != 1 {
				t.Errorf("%d holders of %s", inside[key], key)
			}
			mu.Unlock()
			mu.Lock()
			inside[key]--
			mu.Unlock()
			unlock()
		}([]string{"a", "b", "c"}[i%3])
	}
	wg.Wait()
	if n := k.Len(); n != 0 {
		t.Errorf("%d entries left, want 0", n)
	}
}
