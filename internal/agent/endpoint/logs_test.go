package endpoint

import (
	"net/url"
	"testing"
	"time"

	"mini.dev/mini/internal/runtime/crilog"
)

func TestLogOptions(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		query    string
		want     crilog.ReadOptions
		previous bool
		err      bool
	}{
		{query: "", want: crilog.ReadOptions{TailLines: -1}},
		{query: "follow=true&timestamps=1&tailLines=10&limitBytes=100", want: crilog.ReadOptions{Follow: true, Timestamps: true, TailLines: 10, LimitBytes: 100}},
		{query: "previous=true", want: crilog.ReadOptions{TailLines: -1}, previous: true},
		{query: "sinceSeconds=60", want: crilog.ReadOptions{TailLines: -1, Since: now.Add(-time.Minute)}},
		{query: "sinceTime=2026-01-01T00:00:00Z", want: crilog.ReadOptions{TailLines: -1, Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{query: "stream=Stderr", want: crilog.ReadOptions{TailLines: -1, Stream: crilog.Stderr}},
		{query: "stream=All&tailLines=1", want: crilog.ReadOptions{TailLines: 1}},
		{query: "stream=Stdout&tailLines=1", err: true},
		{query: "stream=bogus", err: true},
		{query: "tailLines=-1", err: true},
		{query: "limitBytes=0", err: true},
		{query: "sinceSeconds=0", err: true},
		{query: "sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z", err: true},
		{query: "follow=maybe", err: true},
		{query: "sinceTime=yesterday", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			got, previous, err := logOptions(q.Get, now)
			if tt.err {
				if err == nil {
					t.Fatalf("no error, got %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Follow != tt.want.Follow || got.TailLines != tt.want.TailLines || got.LimitBytes != tt.want.LimitBytes ||
				!got.Since.Equal(tt.want.Since) || got.Timestamps != tt.want.Timestamps || got.Stream != tt.want.Stream || previous != tt.previous {
				t.Errorf("got %+v previous=%v, want %+v previous=%v", got, previous, tt.want, tt.previous)
			}
		})
	}
}
