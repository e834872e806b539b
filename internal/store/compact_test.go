package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestCompact(t *testing.T) {
	tests := []struct {
		name    string
		count   int64
		age     time.Duration
		writes  int
		at      time.Duration // compaction time after the writes
		want    int64         // compacted revision
		listOld int64         // a revision that must now be gone
	}{
		{"count bound", 5, time.Hour, 12, 0, 7, 6},
		{"within both bounds", 100, time.Hour, 12, 0, 0, -1},
		{"age bound drops everything older", 100, time.Minute, 12, 2 * time.Minute, 12, 11},
		{"count bound larger than the log", 50, time.Hour, 10, 0, 0, -1},
		{"more than one chunk", 10, time.Hour, compactChunk + 100, 0, compactChunk + 90, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.writes > 1000 && testing.Short() {
				t.Skip("many writes")
			}
			s := openTest(t, Config{HistoryCount: tt.count, HistoryAge: tt.age, MaxBatch: 4096})
			ctx := context.Background()
			errs := make(chan error, tt.writes)
			for i := range tt.writes {
				go func() {
					_, err := s.Create(ctx, fmt.Sprintf("/k/%d", i), []byte("v"))
					errs <- err
				}()
			}
			for range tt.writes {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.Compact(ctx, time.Now().Add(tt.at))
			if err != nil || got != tt.want {
				t.Fatalf("Compact = %d, %v; want %d", got, err, tt.want)
			}
			if s.CompactRevision() != tt.want {
				t.Errorf("CompactRevision = %d, want %d", s.CompactRevision(), tt.want)
			}
			if tt.listOld >= 0 {
				if _, err := s.List(ctx, "/", ListOptions{Revision: tt.listOld}); !errors.Is(err, ErrCompacted) {
					t.Errorf("list at %d: %v, want ErrCompacted", tt.listOld, err)
				}
			}
			// The live keys are untouched.
			res, err := s.List(ctx, "/k/", ListOptions{})
			if err != nil || len(res.KVs) != tt.writes {
				t.Fatalf("live list: %d keys, %v; want %d", len(res.KVs), err, tt.writes)
			}
			// Compacting again changes nothing.
			if again, err := s.Compact(ctx, time.Now().Add(tt.at)); err != nil || again != tt.want {
				t.Errorf("second Compact = %d, %v; want %d", again, err, tt.want)
			}
		})
	}
}

func TestCompactionSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir, HistoryCount: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		mustCreate(t, s, fmt.Sprintf("/r/%d", i), "v")
	}
	if _, err := s.Compact(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, Config{Dir: dir, HistoryCount: 2})
	if got := s.CompactRevision(); got != 4 {
		t.Fatalf("compacted revision after reopen = %d, want 4", got)
	}
	if _, err := s.Watch(context.Background(), "/", 3); !errors.Is(err, ErrCompacted) {
		t.Fatalf("watch from 3: %v, want ErrCompacted", err)
	}
}

func TestRunCompactsPeriodically(t *testing.T) {
	s := openTest(t, Config{HistoryCount: 1, CompactInterval: time.Millisecond})
	mustCreate(t, s, "/a", "1")
	mustCreate(t, s, "/b", "1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	// Run ticks every millisecond; poll until it has compacted.
	deadline := time.Now().Add(10 * time.Second)
	for s.CompactRevision() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not compact within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}
