package executortest

import (
	"sync"
	"testing"
	"time"
)

func TestBarrier(t *testing.T) {
	t.Run("together", func(t *testing.T) {
		b := NewBarrier(3, time.Second)
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() { defer wg.Done(); b.Wait() }()
		}
		wg.Wait()
		if ok, n := b.Together(); !ok || n != 3 {
			t.Errorf("Together() = %v, %d; want true, 3", ok, n)
		}
	})
	t.Run("one after another", func(t *testing.T) {
		b := NewBarrier(2, 20*time.Millisecond)
		b.Wait() // alone: gives up
		b.Wait() // the second arrives, but the first did not wait for it
		if ok, n := b.Together(); ok || n != 2 {
			t.Errorf("Together() = %v, %d; want false, 2 (sequential requests)", ok, n)
		}
	})
}
