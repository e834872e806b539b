package cronjob

import (
	"strings"
	"testing"
	"time"
)

func TestParseAndNext(t *testing.T) {
	utc := time.UTC
	// 2025-03-01 is a Saturday.
	from := time.Date(2025, 3, 1, 10, 17, 30, 0, utc)
	tests := []struct {
		spec string
		from time.Time
		want []time.Time // successive activations
	}{
		{"*/15 * * * *", from, []time.Time{time.Date(2025, 3, 1, 10, 30, 0, 0, utc), time.Date(2025, 3, 1, 10, 45, 0, 0, utc)}},
		{"0 * * * *", from, []time.Time{time.Date(2025, 3, 1, 11, 0, 0, 0, utc)}},
		{"5-7 9 * * *", from, []time.Time{time.Date(2025, 3, 2, 9, 5, 0, 0, utc), time.Date(2025, 3, 2, 9, 6, 0, 0, utc), time.Date(2025, 3, 2, 9, 7, 0, 0, utc), time.Date(2025, 3, 3, 9, 5, 0, 0, utc)}},
		{"0 12 * * mon-fri", from, []time.Time{time.Date(2025, 3, 3, 12, 0, 0, 0, utc)}},
		{"0 0 1 jan,JUL *", from, []time.Time{time.Date(2025, 7, 1, 0, 0, 0, 0, utc), time.Date(2026, 1, 1, 0, 0, 0, 0, utc)}},
		{"30 10 15 * 0", from, []time.Time{time.Date(2025, 3, 2, 10, 30, 0, 0, utc), time.Date(2025, 3, 9, 10, 30, 0, 0, utc), time.Date(2025, 3, 15, 10, 30, 0, 0, utc)}}, // dom OR dow
		{"10/20 * * * *", from, []time.Time{time.Date(2025, 3, 1, 10, 30, 0, 0, utc), time.Date(2025, 3, 1, 10, 50, 0, 0, utc), time.Date(2025, 3, 1, 11, 10, 0, 0, utc)}},
		{"0 0 29 2 *", from, []time.Time{time.Date(2028, 2, 29, 0, 0, 0, 0, utc)}},
		{"@hourly", from, []time.Time{time.Date(2025, 3, 1, 11, 0, 0, 0, utc)}},
		{"@daily", from, []time.Time{time.Date(2025, 3, 2, 0, 0, 0, 0, utc)}},
		{"@midnight", from, []time.Time{time.Date(2025, 3, 2, 0, 0, 0, 0, utc)}},
		{"@weekly", from, []time.Time{time.Date(2025, 3, 2, 0, 0, 0, 0, utc), time.Date(2025, 3, 9, 0, 0, 0, 0, utc)}},
		{"@monthly", from, []time.Time{time.Date(2025, 4, 1, 0, 0, 0, 0, utc)}},
		{"@yearly", from, []time.Time{time.Date(2026, 1, 1, 0, 0, 0, 0, utc)}},
		{"@annually", from, []time.Time{time.Date(2026, 1, 1, 0, 0, 0, 0, utc)}},
		{"@every 90s", from, []time.Time{time.Date(2025, 3, 1, 10, 19, 0, 0, utc)}},
		// 09:00 in New York is 14:00 UTC before the DST change (9 March 2025), 13:00 after.
		{"TZ=America/New_York 0 9 * * *", from, []time.Time{time.Date(2025, 3, 1, 14, 0, 0, 0, utc), time.Date(2025, 3, 2, 14, 0, 0, 0, utc)}},
		{"CRON_TZ=America/New_York 0 9 10 3 *", from, []time.Time{time.Date(2025, 3, 10, 13, 0, 0, 0, utc)}},
		{"0 0 31 2 *", from, []time.Time{{}}}, // never
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := ParseStandard(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			cur := tt.from
			for i, want := range tt.want {
				got := s.Next(cur)
				if !got.Equal(want) {
					t.Fatalf("activation %d after %v: got %v, want %v", i, cur, got, want)
				}
				cur = got
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"", "empty spec string"},
		{"* * * *", "expected exactly 5 fields, found 4"},
		{"* * * * * *", "expected exactly 5 fields, found 6"},
		{"60 * * * *", "end of range (60) above maximum (59): 60"},
		{"* 5-2 * * *", "beginning of range (5) beyond end of range (2): 5-2"},
		{"* * 0 * *", "beginning of range (0) below minimum (1): 0"},
		{"*/0 * * * *", "step of range should be a positive number: */0"},
		{"a * * * *", "failed to parse int from a"},
		{"* * * foo *", "failed to parse int from foo"},
		{"@fortnightly", "unrecognized descriptor: @fortnightly"},
		{"TZ=Mars/Olympus * * * * *", "provided bad location Mars/Olympus"},
		{"1-2-3 * * * *", "too many hyphens: 1-2-3"},
		{"1/2/3 * * * *", "too many slashes: 1/2/3"},
	}
	for _, tt := range tests {
		_, err := ParseStandard(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want %q", tt.spec, err, tt.want)
		}
	}
}
