package job

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }

func metavUpdate() metav1.UpdateOptions { return metav1.UpdateOptions{} }

func TestIndexSetString(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", ""},
		{"0", "0"},
		{"0,1", "0,1"},
		{"0,1,2", "0-2"},
		{"5,0-2,3,9,8", "0-3,5,8,9"},
		{"1-3,20", "1-3"},
	}
	for _, tt := range tests {
		if got := parseIndexes(tt.in, 10).String(); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}
